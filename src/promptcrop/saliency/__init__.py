"""Weight-free saliency for the offline mode: where the eye goes, from image statistics and faces.

No model weights are downloaded (the face and object detectors, when installed, are small files
shipped in packages). The package follows the map's making:

- :mod:`~promptcrop.saliency.grid` — reduced copies, normalisation, integral images, Lab;
- :mod:`~promptcrop.saliency.cues` — colour contrast, spectral residual, saturation, skin and
  face-like skin blobs, edge energy, focus, centre prior;
- :mod:`~promptcrop.saliency.litert_c` — the detectors' native side: model files, LiteRT's C API
  through ctypes, the runtime's stderr, background threads (standard library only);
- :mod:`~promptcrop.saliency.litert` — what the two detectors share (a model ready to run, NMS);
- :mod:`~promptcrop.saliency.faces` — the face detector (BlazeFace on LiteRT, when installed);
- :mod:`~promptcrop.saliency.objects` — the object detector (EfficientDet-Lite0, when installed);
- :mod:`~promptcrop.saliency.subjects` — the people and animals it finds (with the vehicles they
  ride or stand before): a cue and the region;
- :mod:`~promptcrop.saliency.people` — heads and person boxes (clothing connected to the torso);
- :mod:`~promptcrop.saliency.frame` — borders, bars and caption banners (the photo's content box);
- :mod:`~promptcrop.saliency.marks` — corner watermarks and text;
- :mod:`~promptcrop.saliency.map` — :class:`SaliencyMap` and :func:`compute_saliency`, the cues mixed
  (the detectors run beside the cues; :func:`warm_up_detectors` builds them ahead);
- :mod:`~promptcrop.saliency.region` — the salient region a crop keeps and the subject's core.

Boxes are xyxy pixels of the full image throughout. The names below are imported on first use, so
that importing one module of the package (as :mod:`~promptcrop.saliency.litert_c` is, before a
command's other imports) does not import them all.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "clear_of_marks": "promptcrop.saliency.region",
    "SaliencyMap": "promptcrop.saliency.map",
    "compute_saliency": "promptcrop.saliency.map",
    "content_box": "promptcrop.saliency.frame",
    "core_region": "promptcrop.saliency.region",
    "corner_marks": "promptcrop.saliency.marks",
    "head_boxes": "promptcrop.saliency.people",
    "person_boxes": "promptcrop.saliency.people",
    "salient_region": "promptcrop.saliency.region",
    "warm_up_detectors": "promptcrop.saliency.map",
}

__all__ = [*_LAZY]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if not name.startswith("_"):  # a submodule not imported yet (promptcrop.saliency.map...)
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
