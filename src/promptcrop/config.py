"""Typed model configuration and named presets.

Every config is a frozen dataclass validated in ``__post_init__`` (invalid values raise
``ValueError``). Configs travel as plain JSON-compatible dicts (:func:`config_to_dict` /
:func:`config_from_dict`), never as pickled objects. Presets inherit from the paper's preset
with :func:`dataclasses.replace`, so each names only what it changes.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from promptcrop.decoder import DecoderConfig

C = TypeVar("C")

DEFAULT_ENCODER_ID = "google/owlvit-base-patch32"


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
        return config_from_dict(hint, value)
    if typing.get_origin(hint) is tuple and isinstance(value, list):
        return tuple(value)
    return value


@dataclass(frozen=True)
class ModelConfig:
    """Which encoder, which decoder shape, which query embeddings (SPEC §2).

    ``encoder_id``: OWL-ViT Hub id or local directory. ``decoder``: the decoder's shape; its
    ``token_dim`` must equal the encoder's token width. ``use_full_text`` / ``use_keywords``:
    embed the whole query text and/or its spaCy keywords (paper Table 4: both is best); at least
    one must be on — the unconditioned ClipCrop-base is chosen by passing no query, not here.
    """

    encoder_id: str = DEFAULT_ENCODER_ID
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    use_full_text: bool = True
    use_keywords: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.encoder_id, str) or not self.encoder_id.strip():
            raise ValueError(f"encoder_id must be a non-empty string, got {self.encoder_id!r}")
        if not isinstance(self.decoder, DecoderConfig):
            raise ValueError(f"decoder must be a DecoderConfig, got {type(self.decoder).__name__}")
        for name in ("use_full_text", "use_keywords"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not (self.use_full_text or self.use_keywords):
            raise ValueError("use_full_text and use_keywords cannot both be false")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (see :func:`config_to_dict`)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        return config_from_dict(cls, data)


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
