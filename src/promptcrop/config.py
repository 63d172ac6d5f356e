"""Typed model configuration, named presets, and the choices every module shares.

Every config is a frozen dataclass validated in ``__post_init__`` (invalid values raise
``ValueError``). Configs travel as plain JSON-compatible dicts (:func:`config_to_dict` /
:func:`config_from_dict`), never as pickled objects. Presets inherit from the paper's preset
with :func:`dataclasses.replace`, so each names only what it changes.

This module imports no torch. The choices every module shares (:data:`DEFAULT_MODEL_ID`,
``MODES``, ``MODE_CHOICES``) live in :mod:`promptcrop.defaults`, so the predictor and the CLI read
them without building these dataclasses (the offline mode needs none of them); they are
re-exported here for code that imported them from this module.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from promptcrop.defaults import DEFAULT_MODEL_ID, MODE_CHOICES, MODES  # noqa: F401 - the modes, re-exported
from promptcrop.queries import DEFAULT_QUERY_PARTS, QUERY_PARTS
from promptcrop.validation import require_choice, require_number, require_positive_int

C = TypeVar("C")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass (nested ones included) → a plain dict that ``json.dumps`` accepts."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a config dataclass instance, got {type(config).__name__}")
    return dataclasses.asdict(config)


def config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Build config dataclass ``cls`` from a plain dict made by :func:`config_to_dict`.

    Nested config dataclasses are rebuilt from nested dicts, JSON lists become tuples where the
    field is a tuple, missing keys take their defaults, and unknown keys raise ``ValueError``
    naming them (a typo must not be silently ignored). Field validation is the dataclass's own.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{cls.__name__} needs a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} keys: {', '.join(map(str, unknown))} "
            f"(known: {', '.join(fields)})"
        )
    hints = typing.get_type_hints(cls)
    return cls(**{name: _from_plain(hints[name], value) for name, value in data.items()})


def _from_plain(hint: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        from_dict = getattr(hint, "from_dict", None)  # a class may accept older key names
        return from_dict(value) if from_dict is not None else config_from_dict(hint, value)
    if typing.get_origin(hint) is tuple and isinstance(value, list):
        return tuple(value)
    return value


@dataclass(frozen=True)
class DecoderConfig:
    """Shape of the ClipCrop decoder (:class:`promptcrop.model.decoder.ClipCropDecoder`). Defaults are
    the paper's (docs/METHOD.md, "Decoder").

    ``token_dim``: width D of the encoder's image tokens (768 for OWL-ViT B/32).
    ``d_model``: decoder width; divisible by ``n_heads`` and by 4 (the sine encoding splits it
    into y/x halves of sin/cos pairs). ``n_heads``, ``n_layers``, ``ffn_dim``: attention heads,
    decoder layers, FFN hidden width. ``n_queries``: M, number of predicted crops.
    ``dropout``: in [0, 1). ``min_box_size``: smallest width/height (normalised) of a final,
    clamped box, in (0, 0.5].
    """

    token_dim: int = 768
    d_model: int = 512
    n_heads: int = 8
    n_layers: int = 6
    ffn_dim: int = 2048
    n_queries: int = 90
    dropout: float = 0.1
    min_box_size: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("token_dim", "d_model", "n_heads", "n_layers", "ffn_dim", "n_queries"):
            require_positive_int(name, getattr(self, name))
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.d_model % 4:
            raise ValueError(f"d_model must be divisible by 4 (2-D sine encoding), got {self.d_model}")
        require_number("dropout", self.dropout, 0.0, 1.0, high_open=True)
        require_number("min_box_size", self.min_box_size, 0.0, 0.5, low_open=True)


@dataclass(frozen=True)
class ModelConfig:
    """Which encoder, which decoder shape, which query embeddings (docs/METHOD.md).

    ``encoder_id``: OWL-ViT Hub id or local directory. ``decoder``: the decoder's shape; its
    ``token_dim`` must equal the encoder's token width. ``query_parts``: which phrases of a query
    are embedded and grounded — ``"both"`` (the full text and its keywords; the paper's ablation
    finds both best), ``"text"`` or ``"keywords"`` (see :func:`promptcrop.queries.query_phrases`).
    The decoder checkpoint records it, so inference embeds what training embedded. The
    unconditioned ClipCrop-base is chosen by passing no query, not here.

    Older files spelled the choice as two booleans, ``use_full_text`` / ``use_keywords``;
    :meth:`from_dict` still reads them (both true = ``"both"``, only one true = that part, both
    false is an error) and refuses a file that gives both spellings with different answers.
    """

    encoder_id: str = DEFAULT_MODEL_ID
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    query_parts: str = DEFAULT_QUERY_PARTS

    def __post_init__(self) -> None:
        if not isinstance(self.encoder_id, str) or not self.encoder_id.strip():
            raise ValueError(f"encoder_id must be a non-empty string, got {self.encoder_id!r}")
        if not isinstance(self.decoder, DecoderConfig):
            raise ValueError(f"decoder must be a DecoderConfig, got {type(self.decoder).__name__}")
        require_choice("query_parts", self.query_parts, QUERY_PARTS)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (see :func:`config_to_dict`)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them, and the
        older ``use_full_text`` / ``use_keywords`` keys become ``query_parts``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__} needs a mapping, got {type(data).__name__}")
        return config_from_dict(cls, upgrade_model_keys(data))


_LEGACY_QUERY_KEYS = ("use_full_text", "use_keywords")


def upgrade_model_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """A model-config dict with the older ``use_full_text`` / ``use_keywords`` booleans replaced
    by the ``query_parts`` they mean; a dict without them is returned as a copy.

    A missing boolean counts as true (both defaulted to true). Raises ``ValueError`` when a
    boolean is not true/false, when both are false, or when ``query_parts`` is also given and
    says something else.
    """
    out = dict(data)
    if not any(key in out for key in _LEGACY_QUERY_KEYS):
        return out
    full_text, keywords = (out.pop(key, True) for key in _LEGACY_QUERY_KEYS)
    for key, value in zip(_LEGACY_QUERY_KEYS, (full_text, keywords)):
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, got {value!r}")
    if not (full_text or keywords):
        raise ValueError("use_full_text and use_keywords cannot both be false")
    meant = "both" if full_text and keywords else "text" if full_text else "keywords"
    given = out.setdefault("query_parts", meant)
    if given != meant:
        raise ValueError(
            f"query_parts {given!r} contradicts use_full_text={full_text} / use_keywords={keywords} "
            f"(which mean {meant!r}); give query_parts only"
        )
    return out


PAPER = ModelConfig()
"""Paper Appendix B: OWL-ViT B/32; decoder 6 layers, d_model 512, 8 heads, FFN 2048, 90 queries."""

TINY = dataclasses.replace(
    PAPER,
    decoder=dataclasses.replace(
        PAPER.decoder, token_dim=32, d_model=32, n_layers=2, n_heads=4, ffn_dim=64
    ),
)
"""For tests on CPU: the paper's 90 queries, a 2-layer 32-wide decoder, for a 32-wide tiny encoder."""

PRESETS: dict[str, ModelConfig] = {"paper": PAPER, "tiny": TINY}


def get_preset(name: str) -> ModelConfig:
    """The named preset; ``ValueError`` listing the known names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}"
        ) from None
