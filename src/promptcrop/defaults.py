"""Defaults that front ends show before anything heavy is imported (``promptcrop --help`` reads
them without importing NumPy, Pillow or the model configuration), and the modes every module
shares."""

DEFAULT_MODEL_ID = "google/owlvit-base-patch32"
"""The OWL-ViT the paper uses (B/32, 768 px input): default encoder of every front end."""

DEFAULT_MAX_PIXELS = 64_000_000
"""Images (and output canvases) above this many pixels are refused unless the caller allows more."""

MODES: tuple[str, ...] = ("clipcrop", "zeroshot", "offline")
"""How a prediction is made: ``clipcrop`` (trained decoder), ``zeroshot`` (OWL-ViT grounding and
the composer, no decoder) or ``offline`` (saliency and the composer, no weights); see
docs/METHOD.md, "Three ways to crop"."""

MODE_CHOICES: tuple[str, ...] = ("auto", *MODES)
"""What a caller may ask for: a mode, or ``auto`` (the best one the loaded weights allow)."""
