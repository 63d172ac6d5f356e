"""Subjects the object detector finds (:mod:`promptcrop.saliency.objects`): which detections are
subjects (people and animals), the cue they add to the saliency map, and the main ones the salient
region keeps.

A person seen from behind, in silhouette or too small for a face, and the dog or horse beside them,
are subjects a photographer keeps whatever their colours; the image statistics of the other cues
cannot tell them from a bright flowerbed or a blurred backdrop, the detector can. Only the main
subjects join the region (the largest and those near its size), so people in the background and
bystanders at the edges are kept only where a crop shows them anyway.

Boxes are ``[N, 4]`` xyxy pixels of the image named in each function.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from promptcrop import boxes as B

#: Detector labels that are subjects in themselves: people and animals.
SUBJECT_LABELS = frozenset({
    "person", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
})


#: A subject joins the region to keep when the detector is at least this sure of it and its side
#: (square root of its area) is at least :data:`MAIN_SUBJECT_SHARE` of the largest such subject's.
MAIN_SUBJECT_SCORE = 0.4


MAIN_SUBJECT_SHARE = 0.5


#: A subject whose box comes this close (share of the frame's width) to its left or right edge was
#: cut off by the photographer: a bystander at the edge of a crowd or a group, not the main
#: subject, unless it is the largest one.
EDGE_MARGIN = 0.01


#: The cue of a detected subject: 1 at the middle of its box, falling to this at its edges (a box
#: holds some background at its corners, the subject is in the middle of it).
EDGE_LEVEL = 0.5


def detected_subjects(work: Image.Image, content: np.ndarray, to_work: np.ndarray):
    """The people and animals the default object detector finds in ``work`` (a reduced copy of the
    image; ``to_work`` ``[4]`` scales image px onto it) inside the ``content`` box ``[4]`` (image
    px) → ``(boxes [N, 4] image px, scores [N])`` best first, or None when the detector is not
    installed."""
    from promptcrop.saliency.objects import default_object_detector

    detector = default_object_detector()
    if detector is None:
        return None
    x1, y1, x2, y2 = (int(round(v)) for v in content * to_work)
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    window = work if (x1, y1, x2, y2) == (0, 0, *work.size) else work.crop((x1, y1, x2, y2))
    found = detector.detect(window).of(SUBJECT_LABELS)
    boxes = (found.boxes + np.array([x1, y1, x1, y1], dtype=np.float64)) / to_work
    return boxes.reshape(-1, 4), found.scores


def subjects_prior(boxes_small: np.ndarray, scores: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A cue for detected subjects, ``[h, w]`` in [0, 1]: each box ``[N, 4]`` (xyxy px of the map
    grid) filled with its score ``[N]``, highest at its middle (a tent falling to
    :data:`EDGE_LEVEL` of it at the edges); overlapping boxes take the larger value."""
    w, h = size
    xs = np.arange(w, dtype=np.float32) + 0.5
    ys = np.arange(h, dtype=np.float32) + 0.5
    cue = np.zeros((h, w), dtype=np.float32)
    for box, score in zip(np.asarray(boxes_small, dtype=np.float32), np.asarray(scores, dtype=np.float32)):
        along_x = _tent(xs, box[0], box[2])
        along_y = _tent(ys, box[1], box[3])
        cue = np.maximum(cue, score * np.outer(along_y, along_x))
    return cue


def main_subjects(boxes: np.ndarray, scores: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The subjects the region keeps, ``[M, 4]`` (same px as ``boxes [N, 4]`` and the ``content``
    box ``[4]``, the photo inside its frame artefacts): those scored from
    :data:`MAIN_SUBJECT_SCORE` whose side is at least :data:`MAIN_SUBJECT_SHARE` of the largest of
    them, and that the photo's left or right edge does not cut (:data:`EDGE_MARGIN`) unless it is
    the largest."""
    sure = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[np.asarray(scores) >= MAIN_SUBJECT_SCORE]
    if not len(sure):
        return np.zeros((0, 4))
    side = np.sqrt(B.box_area(sure))
    margin = EDGE_MARGIN * (content[2] - content[0])
    at_edge = (sure[:, 0] <= content[0] + margin) | (sure[:, 2] >= content[2] - margin)
    largest = side == side.max()
    return sure[(side >= MAIN_SUBJECT_SHARE * side.max()) & (~at_edge | largest)]


def _tent(coords: np.ndarray, low: float, high: float) -> np.ndarray:
    """1 at the middle of ``[low, high)``, :data:`EDGE_LEVEL` at its ends, 0 outside: ``[n]``."""
    half = max((high - low) / 2, 1e-6)
    distance = np.abs(coords - (low + high) / 2) / half  # 0 at the middle, 1 at the edges
    return np.where(distance < 1.0, 1.0 - (1.0 - EDGE_LEVEL) * distance, 0.0).astype(np.float32)


__all__ = ["MAIN_SUBJECT_SCORE", "MAIN_SUBJECT_SHARE", "SUBJECT_LABELS", "detected_subjects", "main_subjects",
           "subjects_prior"]
