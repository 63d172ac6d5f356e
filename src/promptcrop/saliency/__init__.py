"""Weight-free saliency for the offline mode: where the eye goes, from image statistics and faces.

No model weights are downloaded (the face and object detectors, when installed, are small files
shipped in packages). The package follows the map's making:

- :mod:`~promptcrop.saliency.grid` — reduced copies, normalisation, integral images, Lab;
- :mod:`~promptcrop.saliency.cues` — colour contrast, spectral residual, saturation, skin and
  face-like skin blobs, edge energy, focus, centre prior;
- :mod:`~promptcrop.saliency.litert` — what the two detectors share (model files, LiteRT, NMS);
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

Boxes are xyxy pixels of the full image throughout.
"""

from __future__ import annotations

from promptcrop.saliency.frame import content_box
from promptcrop.saliency.map import SaliencyMap, compute_saliency, warm_up_detectors
from promptcrop.saliency.marks import corner_marks
from promptcrop.saliency.people import head_boxes, person_boxes
from promptcrop.saliency.region import clear_of_marks, core_region, salient_region

__all__ = [
    "clear_of_marks",
    "SaliencyMap",
    "compute_saliency",
    "content_box",
    "core_region",
    "corner_marks",
    "head_boxes",
    "person_boxes",
    "salient_region",
    "warm_up_detectors",
]
