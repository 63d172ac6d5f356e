"""Complete OWL-ViT model directories built offline, with random weights.

A test fixture shipped for the tests and the benchmarks (never imported by the library itself; it needs
PyTorch and transformers, from ``promptcrop[torch]``): the directory written by
:func:`build_owlvit_dir` loads through exactly the call path users run with
``google/owlvit-base-patch32`` — ``OwlViTForObjectDetection.from_pretrained(dir)`` and
``OwlViTProcessor.from_pretrained(dir)`` — without any download (see
``docs/TESTING.md``).

Random weights give real shapes, timings and memory, never meaningful outputs: do not judge crop
quality with them.
"""

from __future__ import annotations

import gzip
import importlib.metadata
from pathlib import Path
from typing import Literal

import torch
from transformers import CLIPTokenizer, OwlViTConfig, OwlViTForObjectDetection, OwlViTImageProcessor, OwlViTProcessor
from transformers.convert_slow_tokenizer import bytes_to_unicode

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "!"  # what the real OWL-ViT tokenizer pads with (id 0)
TEXT_POSITIONS = 16  # OWL-ViT's text model has 16 positions
CLIP_MERGES_FILE = "open_clip/bpe_simple_vocab_16e6.txt.gz"
CLIP_NUM_MERGES = 49152 - 256 - 2  # merges CLIP uses: 48,894 lines after the header

# "tiny": hidden 32, 2 layers, patch 32 at 768 px (576 tokens like the real B/32). The text side
# is narrower (16) than the vision side (32) so shape mix-ups between D and C cannot go unnoticed;
# projection_dim must equal the text hidden size because OWL-ViT's class head maps image tokens
# to the text hidden size and compares them with projected text embeddings.
_TINY_VISION = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
    image_size=768, patch_size=32,
)
_TINY_TEXT = dict(
    num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=TEXT_POSITIONS,
)
_TINY_TEXT_WIDTH = 16  # text hidden size = projection_dim; the text MLP is twice as wide
HEAD_STD = 0.02


def byte_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The byte-level vocabulary with no merges: every word becomes its characters.

    Ids: the 256 GPT-2 byte characters, the same with ``</w>``, then ``<|startoftext|>`` and
    ``<|endoftext|>`` last — as in CLIP, where the text model pools at the highest id (EOS).
    Returns ``(vocab, merges)`` with ``merges`` empty.
    """
    chars = list(bytes_to_unicode().values())
    return _vocab_from(chars + [c + "</w>" for c in chars]), []


def clip_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The real CLIP BPE vocabulary (49,408 entries) from the ``open_clip_torch`` wheel's merges file.

    Same construction as CLIP's ``SimpleTokenizer``: 256 byte characters, the same with ``</w>``,
    one entry per merge, then the two special tokens. ``open_clip`` itself is never imported
    (it needs torchvision); its data file is found through package metadata.

    Raises:
        RuntimeError: ``open_clip_torch`` is not installed or lacks the merges file.
    """
    lines = _read_clip_merges()
    merges = [tuple(line.split()) for line in lines[1 : CLIP_NUM_MERGES + 1]]
    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["".join(pair) for pair in merges]
    return _vocab_from(tokens), merges


def _vocab_from(tokens: list[str]) -> dict[str, int]:
    return {token: i for i, token in enumerate(tokens + [BOS_TOKEN, EOS_TOKEN])}


def _read_clip_merges() -> list[str]:
    fix = "install it with `pip install open_clip_torch` or use vocab='bytes'"
    try:
        files = importlib.metadata.files("open_clip_torch") or []
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"the CLIP vocabulary needs the open_clip_torch package: {fix}") from None
    found = [f for f in files if str(f).replace("\\", "/") == CLIP_MERGES_FILE]
    if not found or not Path(str(found[0].locate())).is_file():
        raise RuntimeError(f"open_clip_torch has no {CLIP_MERGES_FILE}: {fix}")
    with gzip.open(found[0].locate(), "rt", encoding="utf-8") as handle:
        return handle.read().split("\n")


def owlvit_config(
    size: Literal["tiny", "base"],
    vocab_size: int,
    image_size: int = 768,
    text_width: int | None = None,
    patch_size: int = 32,
) -> OwlViTConfig:
    """The model config: ``"tiny"`` (see module constants) or ``"base"`` (real-size B/32 defaults),
    at ``image_size`` pixels (a multiple of ``patch_size``; 768 and 32 = OWL-ViT B/32's).
    ``text_width``: ``"tiny"`` only — the text tower's hidden size and the projection dimension
    ``C`` (default 16, see the module constants); the learning proof uses 32, since a 16-wide
    query embedding tells colour and shape apart less well. ``patch_size``: the vision patch side
    in pixels (OWL-ViT B/16 uses 16).

    Token ids follow :func:`byte_vocab` / :func:`clip_vocab`: EOS and BOS are the last two ids,
    the pad token ``!`` is id 0.
    """
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    if image_size < patch_size or image_size % patch_size:
        raise ValueError(f"image_size must be a positive multiple of patch_size ({patch_size}), got {image_size}")
    ids = dict(
        vocab_size=vocab_size, bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1,
        pad_token_id=0,
    )
    if text_width is not None and (size != "tiny" or isinstance(text_width, bool)
                                   or not isinstance(text_width, int) or text_width < 2 or text_width % 2):
        raise ValueError(f"text_width must be an even integer >= 2 and needs size 'tiny', got {text_width!r}")
    if size == "tiny":
        width = _TINY_TEXT_WIDTH if text_width is None else text_width
        text = {**_TINY_TEXT, **ids, "hidden_size": width, "intermediate_size": 2 * width}
        return OwlViTConfig(
            text_config=text,
            vision_config={**_TINY_VISION, "image_size": image_size, "patch_size": patch_size},
            projection_dim=width,
        )
    if size == "base":
        return OwlViTConfig(text_config=ids, vision_config={"image_size": image_size, "patch_size": patch_size})
    raise ValueError(f"size must be 'tiny' or 'base', got {size!r}")


def _shrink_detection_heads(model: OwlViTForObjectDetection, std: float = HEAD_STD) -> None:
    """Redraw the box and class heads' linear layers with a small std (zero biases).

    transformers initialises the detection heads with std 1. In the box head that saturates the
    box sigmoid: every initial box collapses onto an image border with zero size, and
    ``embed_image_query`` then finds no box at all. With small weights each token's box sits on
    its own patch (centre and size from OWL-ViT's box bias, slightly perturbed by the image), as
    with trained weights. In the class head, std 1 makes the per-token logit shift and scale
    (``elu(·) + 1``) large: the initial logits reach tens, the softmax over tokens saturates and
    training from scratch stalls (the learning proof's grounding fine-tune reached half its
    accuracy in the same steps). Small weights start every token at scale ≈ 1, shift ≈ 0.
    """
    with torch.no_grad():
        for head in (model.box_head, model.class_head):
            for layer in head.modules():
                if isinstance(layer, torch.nn.Linear):
                    layer.weight.normal_(0.0, std)
                    layer.bias.zero_()


def build_owlvit_dir(
    path: str | Path,
    *,
    size: Literal["tiny", "base"] = "tiny",
    vocab: Literal["bytes", "clip"] = "bytes",
    seed: int = 0,
    image_size: int = 768,
    text_width: int | None = None,
    patch_size: int = 32,
    heads: Literal["small", "transformers"] = "small",
) -> Path:
    """Write a complete OWL-ViT model directory (weights, config, processor) with random weights.

    Args:
        path: the directory to write (created if missing; existing files are overwritten).
        size: ``"tiny"`` — hidden 32, 2 layers, patch 32 at 768 px (576 image tokens, ``D = 32``,
            ``C = 16``, 16 text positions; under 1 MB) — or ``"base"`` — ``OwlViTConfig()``
            defaults, the real-size B/32 (153 M parameters, ``D = 768``, ``C = 512``).
        vocab: ``"bytes"`` — byte-level vocabulary without merges (every character a token, so
            at most 14 characters fit the 16 positions) — or ``"clip"`` — the real CLIP BPE
            vocabulary (needs the ``open_clip_torch`` package installed, never imported).
        seed: the same seed gives identical weights; the global torch RNG is left untouched.
        image_size: input side in pixels (model and processor); 768 like B/32. Smaller sizes
            give fewer image tokens (384 → 12 × 12 = 144), e.g. for fast CPU training.
        text_width: ``"tiny"`` only: the text hidden size and projection dimension ``C``
            (default 16; see :func:`owlvit_config`).
        patch_size: the vision patch side in pixels (32 like B/32); ``image_size`` must be a
            multiple of it. A smaller patch at a smaller input keeps the token count: 192 px with
            16-pixel patches also gives 12 × 12 tokens, from a quarter of the pixels.
        heads: ``"small"`` redraws the detection heads small (:func:`_shrink_detection_heads`);
            ``"transformers"`` keeps transformers' own initialisation, whose saturated box head
            puts zero-size boxes on the image borders — degenerate outputs to test against.

    Returns:
        The directory as a :class:`~pathlib.Path`.
    """
    if vocab == "bytes":
        token_ids, merges = byte_vocab()
    elif vocab == "clip":
        token_ids, merges = clip_vocab()
    else:
        raise ValueError(f"vocab must be 'bytes' or 'clip', got {vocab!r}")
    config = owlvit_config(size, len(token_ids), image_size, text_width, patch_size)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = OwlViTForObjectDetection(config)
        if heads == "small":
            _shrink_detection_heads(model)
        elif heads != "transformers":
            raise ValueError(f"heads must be 'small' or 'transformers', got {heads!r}")
    model.save_pretrained(out)
    tokenizer = CLIPTokenizer(
        vocab=token_ids, merges=merges, pad_token=PAD_TOKEN, model_max_length=TEXT_POSITIONS
    )
    side = {"height": image_size, "width": image_size}
    processor = OwlViTImageProcessor(size=side, crop_size=side)
    OwlViTProcessor(image_processor=processor, tokenizer=tokenizer).save_pretrained(out)
    return out
