import dataclasses

import pytest
import torch

from optional import require
from promptcrop.boxes import cxcywh_to_xyxy
from promptcrop.config import PAPER, TINY
from promptcrop.errors import InternalError
from promptcrop.model.decoder import ClipCropDecoder, DecoderConfig, DecoderOutput, sine_position_encoding

GRID = (24, 24)
B, P, W = 2, 576, 3
CFG = TINY.decoder


def make_inputs(seed: int = 0, width: int = W) -> dict:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(B, P, CFG.token_dim, generator=g)
    mask = torch.tensor([[True, True, False], [True, False, False]])[:, :width]
    union = torch.tensor([[0.4, 0.5, 0.3, 0.6], [0.5, 0.5, 1.0, 1.0]])
    return dict(
        tokens=tokens,
        grid_hw=GRID,
        selected_tokens=torch.randn(B, width, CFG.token_dim, generator=g),
        selected_mask=mask,
        union_cxcywh=union,
    )


def make_decoder(seed: int = 0, config: DecoderConfig = CFG) -> ClipCropDecoder:
    torch.manual_seed(seed)
    return ClipCropDecoder(config).eval()


def randomise_offset_head(decoder: ClipCropDecoder, scale: float = 0.05) -> None:
    last = decoder.box_head[-1]
    with torch.no_grad():
        last.weight.normal_(0.0, scale)
        last.bias.normal_(0.0, scale)


def run(decoder: ClipCropDecoder, inputs: dict) -> DecoderOutput:
    with torch.no_grad():
        return decoder(**inputs)


def test_output_shapes_and_ranges():
    out = run(make_decoder(), make_inputs())
    L, M = CFG.n_layers, CFG.n_queries
    assert out.boxes_cxcywh.shape == (B, M, 4)
    assert out.scores.shape == (B, M)
    assert out.layer_boxes_cxcywh.shape == (L, B, M, 4)
    assert out.layer_scores.shape == (L, B, M)
    assert ((out.scores >= 0) & (out.scores <= 1)).all()
    torch.testing.assert_close(out.scores, out.layer_scores[-1])


def test_batched_equals_one_by_one():
    decoder, inputs = make_decoder(), make_inputs()
    randomise_offset_head(decoder)
    batched = run(decoder, inputs)
    for i in range(B):
        single = {k: (v[i : i + 1] if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}
        one = run(decoder, single)
        torch.testing.assert_close(one.layer_boxes_cxcywh, batched.layer_boxes_cxcywh[:, i : i + 1])
        torch.testing.assert_close(one.scores, batched.scores[i : i + 1])
        torch.testing.assert_close(one.boxes_cxcywh, batched.boxes_cxcywh[i : i + 1])


def test_prediction_is_union_plus_offset_head_on_every_layer():
    decoder, inputs = make_decoder(), make_inputs()
    randomise_offset_head(decoder)
    out = run(decoder, inputs)
    with torch.no_grad():
        hidden = decoder.hidden_states(
            inputs["tokens"], GRID, inputs["selected_tokens"], inputs["selected_mask"]
        )
        offsets = decoder.box_head(hidden)  # [L, B, M, 4]
    assert offsets.abs().max() > 1e-3  # the check below is not trivially 0 == 0
    union = inputs["union_cxcywh"][None, :, None, :]
    torch.testing.assert_close(out.layer_boxes_cxcywh - union, offsets, atol=1e-6, rtol=0)


def test_untrained_decoder_returns_union_box():
    inputs = make_inputs()
    out = run(make_decoder(), inputs)
    union = inputs["union_cxcywh"][:, None, :].expand(B, CFG.n_queries, 4)
    torch.testing.assert_close(out.layer_boxes_cxcywh[-1], union)
    torch.testing.assert_close(out.boxes_cxcywh, union)


def test_final_boxes_are_clamped_inside_image_with_minimum_size():
    decoder, inputs = make_decoder(), make_inputs()
    randomise_offset_head(decoder, scale=2.0)  # offsets far outside the image
    out = run(decoder, inputs)
    assert (out.layer_boxes_cxcywh[-1] - 0.5).abs().max() > 1.0  # unclamped really escapes
    xyxy = cxcywh_to_xyxy(out.boxes_cxcywh)
    eps = 1e-6
    assert ((xyxy >= -eps) & (xyxy <= 1 + eps)).all()
    assert (out.boxes_cxcywh[..., 2:] >= CFG.min_box_size - eps).all()


def test_base_variant_with_no_selection_equals_all_masked():
    decoder = make_decoder()
    randomise_offset_head(decoder)
    empty = run(decoder, make_inputs(width=0))
    masked = make_inputs()
    masked["selected_mask"] = torch.zeros(B, W, dtype=torch.bool)
    all_masked = run(decoder, masked)
    torch.testing.assert_close(empty.layer_boxes_cxcywh, all_masked.layer_boxes_cxcywh)
    torch.testing.assert_close(empty.scores, all_masked.scores)


def test_condition_uses_only_valid_selections():
    decoder, inputs = make_decoder(), make_inputs()
    randomise_offset_head(decoder)
    base = run(decoder, inputs)
    changed_invalid = dict(inputs, selected_tokens=inputs["selected_tokens"].clone())
    changed_invalid["selected_tokens"][0, 2] = torch.randn(CFG.token_dim)  # masked out
    torch.testing.assert_close(run(decoder, changed_invalid).scores, base.scores)
    changed_valid = dict(inputs, selected_tokens=inputs["selected_tokens"].clone())
    changed_valid["selected_tokens"][0, 0] = torch.randn(CFG.token_dim)  # valid
    assert not torch.allclose(run(decoder, changed_valid).scores[0], base.scores[0])


def test_token_positions_matter():
    decoder, inputs = make_decoder(), make_inputs()
    base = run(decoder, inputs)
    # Swapping image tokens changes nothing without positional encoding (attention is a set op).
    flipped = dict(inputs, tokens=inputs["tokens"].flip(1))
    assert not torch.allclose(run(decoder, flipped).scores, base.scores)


def test_sine_encoding_matches_detr_reference():
    detr = require("transformers.models.detr.modeling_detr")
    reference = detr.DetrSinePositionEmbedding(16, normalize=True)
    try:
        pos = reference(torch.Size([1, 3, 4, 6]), "cpu", torch.float32)  # [1, 32, 4, 6]
    except TypeError:
        pytest.skip("DetrSinePositionEmbedding has another signature in this transformers")
    expected = pos[0].permute(1, 2, 0).reshape(24, 32)
    torch.testing.assert_close(sine_position_encoding((4, 6), 32), expected)


def test_gradients_reach_every_trainable_part():
    decoder = make_decoder().train()
    out = decoder(**make_inputs())
    (out.layer_boxes_cxcywh.sum() + out.layer_scores.sum()).backward()
    assert decoder.box_head[-1].weight.grad.abs().sum() > 0  # zero init does not block learning
    assert decoder.query_embed.grad.abs().sum() > 0
    assert decoder.input_proj[1].weight.grad.abs().sum() > 0


def test_paper_preset_decoder_has_26_194_437_parameters():
    config = PAPER.decoder
    assert (config.n_layers, config.d_model, config.n_heads, config.ffn_dim, config.n_queries) == (
        6, 512, 8, 2048, 90,
    )
    assert config.token_dim == 768
    decoder = ClipCropDecoder(config)
    assert len(decoder.layers) == 6
    assert sum(p.numel() for p in decoder.parameters()) == 26_194_437


@pytest.mark.parametrize(
    "changes",
    [
        {"d_model": 0},
        {"n_heads": -1},
        {"n_layers": 1.5},
        {"n_queries": True},
        {"d_model": 30, "n_heads": 4},  # not divisible by the heads
        {"d_model": 18, "n_heads": 3},  # divisible by the heads, not by 4
        {"dropout": 1.0},
        {"dropout": -0.1},
        {"min_box_size": 0.0},
    ],
)
def test_invalid_config_raises_value_error(changes):
    with pytest.raises(ValueError):
        dataclasses.replace(CFG, **changes)


def test_wrong_input_shapes_raise_clear_errors():
    decoder, inputs = make_decoder(), make_inputs()
    cases = {
        "tokens": dict(inputs, tokens=inputs["tokens"][..., :-1]),
        "grid_hw": dict(inputs, grid_hw=(24, 23)),
        "selected_mask": dict(inputs, selected_mask=inputs["selected_mask"].long()),
        "union_cxcywh": dict(inputs, union_cxcywh=inputs["union_cxcywh"][:1]),
    }
    for name, bad in cases.items():
        with pytest.raises(InternalError, match=name):
            decoder(**bad)


def test_inference_path_equals_the_reference_attention() -> None:
    """Eval mode projects all layers' cross-attention keys/values in one product; it must equal
    running each layer's nn.MultiheadAttention."""
    torch.manual_seed(0)
    decoder = ClipCropDecoder(TINY.decoder).eval()
    tokens = torch.randn(2, 576, decoder.config.token_dim)
    selected = torch.randn(2, 3, decoder.config.token_dim)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    union = torch.tensor([[0.5, 0.5, 0.4, 0.6], [0.3, 0.6, 0.2, 0.3]])
    fast = decoder(tokens, (24, 24), selected, mask, union)
    original = decoder._project_all_kv
    decoder._project_all_kv = lambda memory, keys: None  # type: ignore[assignment]
    try:
        with torch.no_grad():
            reference = decoder(tokens, (24, 24), selected, mask, union)
    finally:
        decoder._project_all_kv = original  # type: ignore[assignment]
    torch.testing.assert_close(fast.layer_boxes_cxcywh, reference.layer_boxes_cxcywh, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.layer_scores, reference.layer_scores, rtol=1e-5, atol=1e-5)


def test_last_layer_only_gives_the_same_final_prediction() -> None:
    torch.manual_seed(0)
    decoder = ClipCropDecoder(TINY.decoder).eval()
    torch.nn.init.normal_(decoder.box_head[-1].weight, std=0.05)  # non-zero offsets, as trained
    tokens = torch.randn(2, 576, decoder.config.token_dim)
    selected = torch.randn(2, 3, decoder.config.token_dim)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    union = torch.tensor([[0.5, 0.5, 0.4, 0.6], [0.3, 0.6, 0.2, 0.3]])
    with torch.no_grad():
        full = decoder(tokens, (24, 24), selected, mask, union)
        last = decoder(tokens, (24, 24), selected, mask, union, all_layers=False)
    assert last.layer_boxes_cxcywh.shape == (1, 2, decoder.config.n_queries, 4)
    assert last.layer_scores.shape == (1, 2, decoder.config.n_queries)
    torch.testing.assert_close(last.layer_boxes_cxcywh[0], full.layer_boxes_cxcywh[-1], rtol=0, atol=0)
    torch.testing.assert_close(last.boxes_cxcywh, full.boxes_cxcywh, rtol=0, atol=0)
    torch.testing.assert_close(last.scores, full.scores, rtol=0, atol=0)
