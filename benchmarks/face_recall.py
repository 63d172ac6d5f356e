"""How many annotated faces the offline mode's face detector finds, and what else it takes for a face.

The detector runs as the offline mode runs it (:func:`promptcrop.saliency.people.detected_faces` on
the whole photo: the same reduced copy, first pass and closer look). A detection matches an
annotated face when each holds more than :data:`MATCH_SHARE` of the other (one detection per face);
a detection matching none is a false face. Faces are the annotations' (``faces`` of
``benchmarks/real_photos.py``'s format: every visible face of about 15 px and more).

Usage::

    python benchmarks/face_recall.py                       # the development set (both halves)
    python benchmarks/face_recall.py DIR --annotations FILE [--one-set NAME]   # other photos
    python benchmarks/face_recall.py ... --list            # every missed and false face

Last line: ``RESULT faces=.. found=.. recall=.. false=..`` over every photo run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))

import real_photos  # noqa: E402
from promptcrop import boxes as B  # noqa: E402
from promptcrop.saliency.people import detected_faces  # noqa: E402

#: A detection and an annotated face match when each holds more than this share of the other.
MATCH_SHARE = 0.3


def matched(found: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one match, annotated faces in order: ``(face found [F] bool, detection used [D]
    bool)`` for detections ``found [D, 4]`` and annotated ``faces [F, 4]`` (xyxy px)."""
    hit, used = np.zeros(len(faces), dtype=bool), np.zeros(len(found), dtype=bool)
    if not len(found) or not len(faces):
        return hit, used
    both = (B.box_coverage(found, faces) > MATCH_SHARE) & (B.box_coverage(faces, found).T > MATCH_SHARE)  # [D, F]
    for f in range(len(faces)):
        free = np.flatnonzero(both[:, f] & ~used)
        if free.size:
            hit[f], used[free[0]] = True, True
    return hit, used


def run(photos: dict[str, Path], annotations: dict[str, dict], group_of, show: bool) -> dict[str, list[int]]:
    """Per group ``[faces, found, false]`` over the photos; prints what was missed when ``show``."""
    totals: dict[str, list[int]] = {}
    for name in sorted(annotations):
        pil = ImageOps.exif_transpose(Image.open(photos[name])).convert("RGB")
        found = detected_faces(pil, np.array([0.0, 0.0, *pil.size]), "detector")
        faces = np.asarray(annotations[name].get("faces", []), dtype=np.float64).reshape(-1, 4)
        hit, used = matched(found, faces)
        row = totals.setdefault(group_of(name), [0, 0, 0])
        row[0] += len(faces)
        row[1] += int(hit.sum())
        row[2] += int((~used).sum())
        if show:
            for face in faces[~hit]:
                print(f"  missed {name}: {np.round(face).astype(int).tolist()}")
            for box in found[~used]:
                print(f"  false  {name}: {np.round(box).astype(int).tolist()}")
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="?", type=Path, help="folder of other annotated photos (with --annotations)")
    parser.add_argument("--annotations", type=Path, default=real_photos.DEFAULT_ANNOTATIONS)
    parser.add_argument("--dev-photos", type=Path, default=None, help="folder of the shared development photos")
    parser.add_argument("--one-set", metavar="NAME", help="report every photo as one set called NAME")
    parser.add_argument("--list", action="store_true", help="print every missed and false face")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        photos, annotations = real_photos.photo_set(args.photos, args.annotations, Path(tmp), args.dev_photos)
        group_of = (lambda name: args.one_set) if args.one_set else real_photos.half_of
        totals = run(photos, annotations, group_of, args.list)
    for group, (faces, found, false) in sorted(totals.items()):
        print(f"{group}: {found} of {faces} faces found, {false} false")
    faces, found, false = (sum(row[i] for row in totals.values()) for i in range(3))
    print(f"RESULT faces={faces} found={found} recall={found / max(faces, 1):.3f} false={false}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
