"""People in the saliency map: head boxes around faces, a person box (head and the body below it,
grown over the clothing connected to the torso) per main face, and the faces the detector finds.

Boxes are ``[N, 4]`` xyxy pixels of the image the faces were found in.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

import promptcrop.saliency.ndimage_lite as ndimage  # scipy.ndimage's functions without its import time
from promptcrop import boxes as B
from promptcrop.saliency.grid import median, to_lab, unique

#: Head box around a detected face: (left, top, right, bottom) margins as shares of the face's
#: width / height — the hair above, the ears at the sides, the chin below. The top is where the
#: hair ends over BlazeFace's box: the median over the eight one-face portraits of the development
#: set's tuning half (0.38–0.96 face heights; docs/REAL_PHOTOS.md, the fifteenth pass). More is
#: air, which a crop too short for the whole person would hold instead of the body.
HEAD_MARGINS = (0.2, 0.55, 0.2, 0.15)


#: Long side (px) of the copy the face detector sees: faces smaller than about 2 % of it are lost.
FACE_DETECT_SIDE = 768


#: A detected person joins the region to keep when their face's side is at least this share of
#: the largest face's (smaller faces, in the background, are only kept whole when a crop shows them).
MAIN_PERSON_SHARE = 0.5


#: Body prior under a detected face: a box this many face widths wide and face heights tall.
BODY_SIZE = (2.6, 3.5)


#: Clothing below a detected face: the torso patch (face widths wide, face heights from the chin
#: down) whose colour is followed, the Lab distance that still counts as the same clothing, how
#: far (face widths to each side, face heights below the chin) it may take the person box, and the
#: largest share of the frame it may cover (more is the background, not a coat).
TORSO_PATCH = (1.0, 0.2, 0.8)


CLOTHING_TOLERANCE = 14.0


CLOTHING_REACH = (4.0, 7.0)


CLOTHING_MAX_SHARE = 0.4


CLOTHING_MAX_PEOPLE = 4


def person_boxes(faces_xyxy_px: np.ndarray) -> np.ndarray:
    """Face boxes ``[F, 4]`` → the person each face belongs to, ``[F, 4]`` xyxy px: the head box
    and a body box :data:`BODY_SIZE` (face widths × face heights) below the face."""
    faces = np.asarray(faces_xyxy_px, dtype=np.float64).reshape(-1, 4)
    w, h = faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1]
    cx = (faces[:, 0] + faces[:, 2]) / 2
    body = np.stack([cx - BODY_SIZE[0] * w / 2, faces[:, 3], cx + BODY_SIZE[0] * w / 2,
                     faces[:, 3] + BODY_SIZE[1] * h], axis=-1)
    heads = head_boxes(faces)
    return np.concatenate([np.minimum(heads[:, :2], body[:, :2]), np.maximum(heads[:, 2:], body[:, 2:])], axis=-1)


def with_clothing(people: np.ndarray, faces: np.ndarray, small: Image.Image, to_small: np.ndarray) -> np.ndarray:
    """Person boxes ``[P, 4]`` grown over the clothing below each face ``[P, 4]`` (both xyxy px of
    the image; ``to_small`` ``[4]`` maps them onto ``small``, the reduced copy): the connected
    area of the torso patch's colour (a coat reaching to the frame's edge, a leaning body), within
    :data:`CLOTHING_REACH` of the face. An area larger than :data:`CLOTHING_MAX_SHARE` of the
    frame is the background and changes nothing. Only the :data:`CLOTHING_MAX_PEOPLE` largest
    faces are followed (a group's person boxes already span it; each costs a labelling)."""
    if not len(faces):
        return people
    lab = to_lab(small)  # [h, w, 3]
    h, w = lab.shape[:2]
    out = people.copy()
    pw, top, bottom = TORSO_PATCH
    reach_x, reach_y = CLOTHING_REACH
    largest = np.argsort(-B.box_area(faces), kind="stable")[:CLOTHING_MAX_PEOPLE]
    for i in largest:
        face = faces[i] * to_small
        fw, fh = face[2] - face[0], face[3] - face[1]
        cx = (face[0] + face[2]) / 2
        px1, px2 = int(max(0, cx - pw * fw / 2)), int(min(w, math.ceil(cx + pw * fw / 2)))
        py1, py2 = int(max(0, face[3] + top * fh)), int(min(h, math.ceil(face[3] + bottom * fh)))
        if px2 - px1 < 1 or py2 - py1 < 1:
            continue  # the face sits at the bottom of the frame: no torso to follow
        patch = lab[py1:py2, px1:px2].reshape(-1, 3)
        colour = median(patch, axis=0)
        same = np.linalg.norm(lab - colour, axis=-1) < CLOTHING_TOLERANCE  # [h, w]
        labels, _ = ndimage.label(same)
        seeds = unique(labels[py1:py2, px1:px2])
        seeds = seeds[seeds > 0]
        if not len(seeds):
            continue
        area = np.isin(labels, seeds)
        if area.mean() > CLOTHING_MAX_SHARE:
            continue
        ys, xs = np.nonzero(area)
        box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)
        limit = np.array([cx - reach_x * fw, face[1], cx + reach_x * fw, face[3] + reach_y * fh])
        box = np.concatenate([np.maximum(box[:2], limit[:2]), np.minimum(box[2:], limit[2:])])
        if (box[2:] <= box[:2]).any():
            continue
        grown = box / to_small
        out[i] = np.concatenate([np.minimum(out[i, :2], grown[:2]), np.maximum(out[i, 2:], grown[2:])])
    return out


def head_boxes(faces_xyxy_px: np.ndarray) -> np.ndarray:
    """Face boxes ``[F, 4]`` → head boxes ``[F, 4]`` (xyxy px): grown by :data:`HEAD_MARGINS`
    (shares of the face's width and height), the hair and some air above the face included."""
    faces = np.asarray(faces_xyxy_px, dtype=np.float64).reshape(-1, 4)
    w, h = faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1]
    left, top, right, bottom = HEAD_MARGINS
    return faces + np.stack([-left * w, -top * h, right * w, bottom * h], axis=-1)


def face_cores(faces_xyxy_px: np.ndarray) -> np.ndarray:
    """Face boxes ``[F, 4]`` → the part of each head box (:func:`head_boxes`) a crop too short for
    the head must hold ``[F, 4]`` (xyxy px): the head without the hair and air above the face, from
    the face's top down to the chin margin (its sides stay the head's)."""
    faces = np.asarray(faces_xyxy_px, dtype=np.float64).reshape(-1, 4)
    cores = head_boxes(faces)
    cores[:, 1] = faces[:, 1]
    return cores


def detected_faces(pil: Image.Image, content: np.ndarray, faces: str | np.ndarray) -> np.ndarray | None:
    """Face boxes ``[F, 4]`` xyxy px of the image, or None when the skin blobs are to be used."""
    if not isinstance(faces, str):
        boxes = np.asarray(faces, dtype=np.float64)
        if boxes.size and (boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all()):
            raise ValueError(f"faces must be boxes of shape [F, 4], got {boxes.shape}")
        return boxes.reshape(-1, 4)
    if faces not in ("auto", "detector", "skin"):
        raise ValueError(f'faces must be "auto", "detector", "skin" or boxes [F, 4], got {faces!r}')
    if faces == "skin":
        return None
    from promptcrop.saliency.faces import default_detector

    detector = default_detector()
    if detector is None:
        return None if faces == "auto" else np.zeros((0, 4))
    x1, y1, x2, y2 = (int(round(v)) for v in content)
    window = pil if (x1, y1, x2, y2) == (0, 0, *pil.size) else pil.crop((x1, y1, x2, y2))
    factor = math.ceil(max(window.size) / FACE_DETECT_SIDE)
    reduced = window.reduce(factor) if factor > 1 else window
    found = detector.detect(reduced).boxes  # [F, 4] px of the reduced window
    scale = np.array([window.width / reduced.width, window.height / reduced.height] * 2)
    return found * scale + np.array([x1, y1, x1, y1], dtype=np.float64)


def people_prior(faces_small: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A cue for detected people, ``[h, w]`` in [0, 1]: 1 on each head, fading down a body box
    (:data:`BODY_SIZE`) below it. ``faces_small``: ``[F, 4]`` xyxy px of the map grid."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    cue = np.zeros((h, w), dtype=np.float32)
    for head, face in zip(head_boxes(faces_small), faces_small):
        fw, fh = face[2] - face[0], face[3] - face[1]
        on_head = (xs >= head[0]) & (xs < head[2]) & (ys >= head[1]) & (ys < head[3])
        cx = (face[0] + face[2]) / 2
        body_half = BODY_SIZE[0] * fw / 2
        below = np.clip((ys - face[3]) / max(BODY_SIZE[1] * fh, 1e-6), 0.0, 1.0)
        in_body = (np.abs(xs - cx) < body_half) & (ys >= face[3]) & (below < 1.0)
        cue = np.maximum(cue, np.where(on_head, 1.0, np.where(in_body, 0.6 * (1.0 - below), 0.0)))
    return cue
