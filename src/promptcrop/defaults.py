"""Defaults that front ends show before anything heavy is imported (``promptcrop --help`` reads
them without importing NumPy, Pillow or the model configuration)."""

DEFAULT_MODEL_ID = "google/owlvit-base-patch32"
"""The OWL-ViT the paper uses (B/32, 768 px input): default encoder of every front end."""

DEFAULT_MAX_PIXELS = 64_000_000
"""Images (and output canvases) above this many pixels are refused unless the caller allows more."""
