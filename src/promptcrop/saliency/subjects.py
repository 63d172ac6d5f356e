"""Subjects the object detector finds (:mod:`promptcrop.saliency.objects`): which detections are
subjects (people and animals, in focus), the cue they add to the saliency map, the main ones the
salient region keeps, the person each detected face belongs to, and where the heads are of the
people whose face the face detector did not find (crops should not cut through them).

A person seen from behind, in silhouette or too small for a face, and the dog or horse beside them,
are subjects a photographer keeps whatever their colours; the image statistics of the other cues
cannot tell them from a bright flowerbed or a blurred backdrop, the detector can. A detection with
no sharp detail in it is a shape in the blurred background (a backdrop, a crowd out of focus), not
a subject. Only the main subjects join the region (the largest and those near its size), so people
in the background and bystanders at the edges are kept only where a crop shows them anyway. A
vehicle joins them when one of them rides it or stands before it (the motorbike under its rider);
on its own, a vehicle is the subject when no person or animal is in the photo.

Boxes are ``[N, 4]`` xyxy pixels of the image named in each function.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from promptcrop import boxes as B
from promptcrop.saliency.grid import box_window, quantile
from promptcrop.saliency.objects import Objects
from promptcrop.saliency.people import head_boxes

#: Detector labels that are subjects in themselves: people and animals.
SUBJECT_LABELS = frozenset({
    "person", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
})


#: Labels that are the subject when no person or animal is in the photo: vehicles (a motorbike, a
#: boat, a plane on its own is what the photo shows; beside people it is their setting, unless one
#: of them rides or stands before it: :func:`held_vehicles`).
VEHICLE_LABELS = frozenset({"bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"})


#: A subject joins the region to keep when the detector is at least this sure of it and its side
#: (square root of its area) is at least :data:`MAIN_SUBJECT_SHARE` of the largest such subject's.
MAIN_SUBJECT_SCORE = 0.4


MAIN_SUBJECT_SHARE = 0.5


#: A subject whose box comes this close (share of the frame's width) to its left or right edge was
#: cut off by the photographer: a bystander at the edge of a crowd or a group, not the main
#: subject, unless it is the largest one. A person whose box comes this close (share of the
#: frame's height) to its top has the head outside the photo (:func:`unseen_heads`).
EDGE_MARGIN = 0.01


#: An arm reaching in from the photo's left or right side ends within this share of its width of
#: the edge (:func:`hands_reaching_in`). The detector's box of a limb cut by the edge stops a few
#: of its input pixels short of it, more than :data:`EDGE_MARGIN` allows.
HAND_EDGE_MARGIN = 0.03
#: A faceless "person" at the side that is wider than tall, but not by
#: :data:`UNSEEN_HEAD_MAX_ASPECT`, is an arm held up (:func:`hands_reaching_in`) when its box ends
#: more than this share of the photo's height above its bottom: a body cut by the side reaches
#: down to the frame's bottom, an arm holding a cup into the picture does not.
HAND_ABOVE_BOTTOM = 0.1


#: A detection is in focus when the sharpest tenth of its detail blocks reaches this share of the
#: photo's sharpest detail (:func:`promptcrop.saliency.cues.detail_blocks`) — below it nothing in
#: the box is sharp: it is the blurred background — and its mean detail is at least
#: :data:`SOFTER_THAN_SUBJECT` of the sharpest detection's (a shape far softer than the photo's
#: subject is out of focus, such as a blurred copy of the subject behind it).
SHARP_DETAIL = 0.1


#: Where the sharpest tenth of a box's detail blocks begins (the quantile read for SHARP_DETAIL).
SHARPEST_SHARE = 0.9


SOFTER_THAN_SUBJECT = 1 / 3


#: A detected person is a face's body (:func:`person_holding`) only when it is at most this many
#: face widths wide and face heights tall (a face box holds the face, not the hair: a standing
#: figure is about 9 face heights tall, arms stretched up reach about 12). A wider box around the
#: face may be that person with arms held out, or that person and a neighbour; which, the box
#: cannot tell, so it is not linked to the face (:data:`SUBJECT_FACE_SPAN`).
PERSON_FACE_SPAN = (8.0, 16.0)

#: A detected person holding a face stays a subject up to this many face widths wide and face
#: heights tall, and is no hand reaching in (:func:`hands_reaching_in`): arms held out, a kick or a
#: lunge reach about 12 widths of the face detector's tight face boxes. Such a box may also hold a
#: neighbour whose face was not seen, so a head is still estimated at its top
#: (:func:`unseen_heads`). A far larger "person" around a face is something else (a crowd's box, a
#: blurred copy of the subject behind it) and is dropped (:func:`sized_to_faces`).
SUBJECT_FACE_SPAN = (13.0, 16.0)

#: A detected person can be a face's body only when the face's centre lies in this top share of
#: the person's box: a head is at the top of its body, standing, sitting or bending (a box around
#: a face low in it is something else — a blurred, enlarged copy of the subject behind it, a
#: person behind).
PERSON_FACE_TOP = 0.5


#: Where the head of a detected person is when none of the detected faces is its own (seen from behind,
#: looking down, under a helmet or a cap, too small for the face detector): the top of the box,
#: across this share of its width around its middle (a face is a fifth to two fifths of a person
#: box's width, and the head is rarely exactly in the box's middle: a person sitting sideways,
#: crouching or reaching out), as tall as it is wide but at most :data:`UNSEEN_HEAD_TALL` of the
#: box's height. A crop edge should pass outside it.
UNSEEN_HEAD_WIDTH = 0.5


#: The most of its person box's height an estimated head takes (:data:`UNSEEN_HEAD_WIDTH`): a
#: wide, low box (someone crouching) does not get a head reaching down to its feet.
UNSEEN_HEAD_TALL = 0.35


#: A person box more than this many times as wide as it is tall gets no estimated head: someone
#: lying down (the head at one end, not on top) or part of a body (an arm reaching into the frame,
#: its head outside it); someone crouching and reaching out is less wide (docs/REAL_PHOTOS.md).
UNSEEN_HEAD_MAX_ASPECT = 1.5


#: An estimated head lying this much (share of its area) inside the head of a detected face is that
#: face's head: a second person box around one person, or one spanning two people in a tight group,
#: holds no face of its own but its top is a face already seen.
SEEN_HEAD_SHARE = 0.5


#: A head shows something: its outline against what is behind it, hair, a face turned away. An
#: estimated head (:data:`UNSEEN_HEAD_WIDTH`) whose sharpest detail (:data:`SHARPEST_SHARE`)
#: stays below this share of its person box's lies over a plain wall or sky: the "person" is an
#: arm or a hand holding something up into the frame, its head outside it (:func:`hands_reaching_in`).
HEAD_DETAIL_SHARE = 0.3


#: Half-side (map px) below which a box is a point for its tent (no division by zero).
MIN_HALF_SIDE = 1e-6


#: The cue of a detected subject: 1 at the middle of its box, falling to this at its edges (a box
#: holds some background at its corners, the subject is in the middle of it).
EDGE_LEVEL = 0.5


def detected_subjects(work: Image.Image, content: np.ndarray, to_work: np.ndarray) -> Objects | None:
    """The people and animals (or, when there are none, the vehicles) the default object detector
    finds in ``work`` (a reduced copy of the image; ``to_work`` ``[4]`` scales image px onto it)
    inside the ``content`` box ``[4]`` (image px) → :class:`~promptcrop.saliency.objects.Objects`
    in image px, best first, then the vehicles they ride or stand before (:func:`holding`;
    :func:`with_vehicles` parts the two), or None when the detector is not installed."""
    from promptcrop.saliency.objects import default_object_detector

    detector = default_object_detector()
    if detector is None:
        return None
    x1, y1, x2, y2 = (int(round(v)) for v in content * to_work)
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    window = work if (x1, y1, x2, y2) == (0, 0, *work.size) else work.crop((x1, y1, x2, y2))
    detected = detector.detect(window, SUBJECT_LABELS | VEHICLE_LABELS)
    found = detected.of(SUBJECT_LABELS)
    vehicles = detected.of(VEHICLE_LABELS)
    if len(found):  # beside people and animals, only the vehicles one of them rides or stands before
        found = found + vehicles.where(holding(vehicles.boxes, found.boxes))
    else:
        found = vehicles
    boxes = B.scale_shift_xyxy(found.boxes, 1 / to_work[0], 1 / to_work[1], x1 / to_work[0], y1 / to_work[1])
    return Objects(boxes.reshape(-1, 4), found.scores, found.labels)


#: A vehicle holds a person or an animal (who rides it, or sits or stands before it) when at least
#: this share of their box lies inside the vehicle's, and the vehicle is the larger: the two are one
#: subject (a rider and the motorbike, a dog waiting by a bicycle, people at a food truck).
HELD_SHARE = 0.5


def holding(vehicles: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """Which of the ``vehicles`` ``[V, 4]`` hold one of the ``subjects`` ``[S, 4]`` (same px;
    :data:`HELD_SHARE`): bool ``[V]``."""
    vehicles = np.asarray(vehicles, dtype=np.float64).reshape(-1, 4)
    subjects = np.asarray(subjects, dtype=np.float64).reshape(-1, 4)
    if not len(vehicles) or not len(subjects):
        return np.zeros(len(vehicles), dtype=bool)
    inside = B.box_coverage(vehicles, subjects) >= HELD_SHARE  # [V, S]
    larger = B.box_area(vehicles)[:, None] > B.box_area(subjects)[None, :]
    return (inside & larger).any(axis=1)


def with_vehicles(found: Objects) -> tuple[Objects, Objects]:
    """The detections of :func:`detected_subjects` split into the people and animals (or, when
    there are none, the vehicles) and the vehicles after them, which one of them rides or stands
    before (none when there are no people or animals)."""
    animate = found.of(SUBJECT_LABELS)
    if not len(animate):
        return found, found.of(frozenset())
    return animate, found.of(VEHICLE_LABELS)


def held_vehicles(vehicles: Objects, main: np.ndarray, detail: np.ndarray | None, image_size: tuple[int, int],
                  content: np.ndarray) -> np.ndarray:
    """The boxes ``[H, 4]`` (image px) of the ``vehicles`` that the main people and animals ``main``
    ``[M, 4]`` ride or stand before (:func:`holding`), as sure as a main subject must be
    (:data:`MAIN_SUBJECT_SCORE`), not cut off by the photo's left or right side (a train crossing
    the frame, a bus running out of it: :data:`EDGE_MARGIN` of the ``content`` box ``[4]``) and in
    focus on their own: their ``detail`` blocks outside the subjects' boxes (the vehicle holds the
    subject's sharp blocks too) as :func:`sharp_subjects` asks of a subject, against the subjects'
    detail."""
    boxes = vehicles.boxes.reshape(-1, 4)
    keep = holding(boxes, main) & (vehicles.scores >= MAIN_SUBJECT_SCORE)
    keep &= ~cut_by_side(boxes, content, largest=np.zeros(len(boxes), dtype=bool))
    if detail is not None and keep.any():
        peak, mean = _block_detail(boxes, detail, image_size, without=main)
        _, subject_mean = _block_detail(main, detail, image_size)
        keep &= (peak >= SHARP_DETAIL) & (mean >= SOFTER_THAN_SUBJECT * subject_mean.max(initial=0.0))
    return boxes[keep]


def sharp_subjects(found: Objects, detail: np.ndarray | None, image_size: tuple[int, int]) -> Objects:
    """The detections ``found`` (image px) in focus (:data:`SHARP_DETAIL`,
    :data:`SOFTER_THAN_SUBJECT`), read off ``detail``, the photo's detail blocks ``[bh, bw]`` in
    [0, 1] (None: keep them all)."""
    if detail is None or not len(found):
        return found
    peak, mean = _block_detail(found.boxes, detail, image_size)
    keep = (peak >= SHARP_DETAIL) & (mean >= SOFTER_THAN_SUBJECT * mean[peak >= SHARP_DETAIL].max(initial=0.0))
    return found.where(keep)


def _block_detail(boxes: np.ndarray, detail: np.ndarray, image_size: tuple[int, int],
                  without: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per box ``[N, 4]`` (image px of ``image_size``), the start of the sharpest tenth
    (:data:`SHARPEST_SHARE`) and the mean of its ``detail`` blocks ``[bh, bw]``, leaving out the
    blocks inside the boxes ``without`` ``[K, 4]`` (a box with no block left reads 0): ``([N], [N])``."""
    bh, bw = detail.shape
    to_blocks = np.array([bw / image_size[0], bh / image_size[1]] * 2)
    counted = None
    if without is not None:
        counted = np.ones((bh, bw), dtype=bool)
        for box in np.asarray(without, dtype=np.float64).reshape(-1, 4) * to_blocks:
            counted[box_window(box, bh, bw)] = False
    peaks, means = [], []
    for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4) * to_blocks:
        window = box_window(box, bh, bw)
        blocks = detail[window] if counted is None else detail[window][counted[window]]
        peaks.append(quantile(blocks, SHARPEST_SHARE) if blocks.size else 0.0)
        means.append(float(blocks.mean()) if blocks.size else 0.0)
    return np.array(peaks), np.array(means)


def person_holding(faces: np.ndarray, found: Objects, span: tuple[float, float] = PERSON_FACE_SPAN) -> np.ndarray:
    """For each face ``[F, 4]``, the index in ``found`` of the detected person it belongs to (the
    smallest person box holding the face's centre, larger than the face and within ``span`` —
    face widths, face heights — of it, the face in its top part: :data:`PERSON_FACE_TOP`), or -1:
    ``[F]`` int."""
    out = np.full(len(faces), -1, dtype=np.int64)
    holds, fits = _faces_in_people(faces, found, span)  # [F, N] each
    for i in range(len(out)):
        mine = holds[i] & fits[i]
        if mine.any():
            out[i] = int(np.argmin(np.where(mine, B.box_area(found.boxes), np.inf)))
    return out


def sized_to_faces(found: Objects, faces: np.ndarray) -> Objects:
    """``found`` without the detected people that hold detected faces ``[F, 4]`` but none of a size
    and place a body of theirs, arms out, could have (:data:`SUBJECT_FACE_SPAN` face widths and
    heights, the face in the box's top part: :data:`PERSON_FACE_TOP`): not that person (a blurred
    copy of the subject behind it, a crowd taken as one). A box between :data:`PERSON_FACE_SPAN` and
    that stays a subject, and is not linked to the face as its body (:func:`person_holding`)."""
    holds, fits = _faces_in_people(faces, found, SUBJECT_FACE_SPAN)
    wrong = holds.any(axis=0) & ~(holds & fits).any(axis=0)  # [N]
    if not wrong.any():
        return found
    return found.where(~wrong)


def _faces_in_people(faces: np.ndarray, found: Objects,
                     span: tuple[float, float] = PERSON_FACE_SPAN) -> tuple[np.ndarray, np.ndarray]:
    """``(holds, fits)``, bool ``[F, N]``: detection n is a person holding face f's centre (and
    larger than it); its box is within ``span`` (face widths, face heights) of the face, which is
    in its top part (:data:`PERSON_FACE_TOP`)."""
    faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
    boxes = found.boxes.reshape(-1, 4)
    people = np.array([label == "person" for label in found.labels], dtype=bool)
    centres = B.xyxy_to_cxcywh(faces)
    cx, cy = centres[:, 0:1], centres[:, 1:2]
    inside = ((boxes[None, :, 0] <= cx) & (cx <= boxes[None, :, 2])
              & (boxes[None, :, 1] <= cy) & (cy <= boxes[None, :, 3]))
    larger = B.box_area(boxes)[None, :] > B.box_area(faces)[:, None]
    holds = people[None, :] & inside & larger
    fw, fh = centres[:, 2:3], centres[:, 3:4]
    tall = boxes[None, :, 3] - boxes[None, :, 1]
    fits = ((boxes[None, :, 2] - boxes[None, :, 0] <= span[0] * fw)
            & (tall <= span[1] * fh)
            & (cy - boxes[None, :, 1] <= PERSON_FACE_TOP * tall))
    return holds, fits


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
    box ``[4]``, the photo inside its frame artefacts): :func:`is_main_subject`."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[is_main_subject(boxes, scores, content)]


def is_main_subject(boxes: np.ndarray, scores: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``[N]`` True for the main subjects among ``boxes [N, 4]`` scored ``scores [N]`` (same px as
    the ``content`` box ``[4]``): those scored from :data:`MAIN_SUBJECT_SCORE` whose side is at
    least :data:`MAIN_SUBJECT_SHARE` of the largest of them, and that the photo's left or right
    edge does not cut (:data:`EDGE_MARGIN`) unless it is the largest."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    sure = np.asarray(scores) >= MAIN_SUBJECT_SCORE
    if not sure.any():
        return sure
    side = np.where(sure, np.sqrt(B.box_area(boxes)), 0.0)
    largest = side == side.max()
    return sure & (side >= MAIN_SUBJECT_SHARE * side.max()) & ~cut_by_side(boxes, content, largest=largest)


def unseen_heads(found: Objects, faces: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Where the heads are of the main detected people (:func:`is_main_subject`; ``found`` in image
    px, inside the ``content`` box ``[4]``) whose box holds none of the ``faces`` ``[F, 4]``, is not
    cut off by the photo's top (:data:`EDGE_MARGIN`: the head is outside the photo) and is not much
    wider than tall (:data:`UNSEEN_HEAD_MAX_ASPECT`: lying, or an arm); a face counts
    for the one person it belongs to (:func:`person_holding`), not for a neighbour whose box
    overlaps it. Each head is the top of its box, :data:`UNSEEN_HEAD_WIDTH` of its width around its
    middle, as tall as it is wide but at most :data:`UNSEEN_HEAD_TALL` of its height, unless it lies
    on the head (:func:`~promptcrop.saliency.people.head_boxes`) of one of the ``faces`` (face boxes,
    any person's: a head estimated on a neighbour's seen head is kept whole with it;
    :data:`SEEN_HEAD_SHARE`): ``[H, 4]`` image px."""
    faceless = _faceless_people(found, faces)
    if not faceless.any():
        return np.zeros((0, 4))
    boxes = found.boxes.reshape(-1, 4)
    heads = estimated_heads(boxes[faceless & _head_in_photo(boxes, content) & is_main_subject(boxes, found.scores, content)])
    if len(faces) and len(heads):
        seen_head = (B.box_coverage(head_boxes(faces), heads) >= SEEN_HEAD_SHARE).any(axis=0)
        heads = heads[~seen_head]
    return heads


def estimated_heads(boxes: np.ndarray) -> np.ndarray:
    """Where the heads of the person boxes ``[N, 4]`` are when no face was seen in them: the top of
    each box, :data:`UNSEEN_HEAD_WIDTH` of its width around its middle, as tall as it is wide but at
    most :data:`UNSEEN_HEAD_TALL` of its height: ``[N, 4]``, same px."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    centre = (boxes[:, 0] + boxes[:, 2]) / 2
    side = UNSEEN_HEAD_WIDTH * width
    tall = np.minimum(side, UNSEEN_HEAD_TALL * height)
    return np.stack([centre - side / 2, boxes[:, 1], centre + side / 2, boxes[:, 1] + tall], axis=-1)


def bodies_below_top(found: Objects, faces: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``[N]`` True for the detected people (``found``, image px, inside the ``content`` box ``[4]``)
    none of the ``faces`` ``[F, 4]`` is theirs (:func:`person_holding`) whose box the photo's top cuts
    (:data:`EDGE_MARGIN`): a body whose head is above the frame. With the hands reaching in
    (:func:`hands_reaching_in`) these are the headless people: part of the picture, not people a
    crop keeps first (:attr:`~promptcrop.saliency.map.SaliencyMap.people`); someone lying down away
    from the sides is still a person. (Without a face detector, skin blobs stand for faces, and a
    hand's blob can make its arm a person.)"""
    return _faceless_people(found, faces) & _cut_by_top(found.boxes.reshape(-1, 4), content)


def hands_reaching_in(found: Objects, faces: np.ndarray, content: np.ndarray, detail: np.ndarray | None = None,
                      image_size: tuple[int, int] | None = None) -> np.ndarray:
    """``[N]`` True for the detected people (``found``, image px of ``image_size``, inside the
    ``content`` box ``[4]``) that are an arm or a hand reaching into the photo: none of the ``faces``
    ``[F, 4]`` is theirs (:func:`person_holding`, or within :data:`SUBJECT_FACE_SPAN` of the box: a
    box around a face is no hand), the box is not cut off by the photo's top, and it is at the
    photo's left or right edge (:data:`HAND_EDGE_MARGIN`) and much wider than tall
    (:data:`UNSEEN_HEAD_MAX_ASPECT`) or wider than tall and held up (:func:`_held_up`), or
    its estimated head shows nothing on the photo's ``detail`` blocks ``[bh, bw]``
    (:data:`HEAD_DETAIL_SHARE`; not tested when None): a plain wall above a hand."""
    boxes = found.boxes.reshape(-1, 4)
    faceless = _faceless_people(found, faces, wide=True) & ~_cut_by_top(boxes, content)
    in_photo = _head_in_photo(boxes, content)
    hands = faceless & _cut_by_sides(boxes, content, HAND_EDGE_MARGIN) & (~in_photo | _held_up(boxes, content))
    if detail is not None and image_size is not None and (faceless & in_photo).any():
        head_peak, _ = _block_detail(estimated_heads(boxes), detail, image_size)
        box_peak, _ = _block_detail(boxes, detail, image_size)
        hands |= faceless & in_photo & (head_peak < HEAD_DETAIL_SHARE * box_peak)
    return hands


def _held_up(boxes: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``[N]`` True for boxes ``[N, 4]`` wider than tall whose bottom is above the ``content`` box's
    ``[4]`` by more than :data:`HAND_ABOVE_BOTTOM` of its height: an arm holding something up,
    which no body below it carries down to the frame's bottom."""
    wider = boxes[:, 2] - boxes[:, 0] > boxes[:, 3] - boxes[:, 1]
    return wider & (boxes[:, 3] < content[3] - HAND_ABOVE_BOTTOM * (content[3] - content[1]))


def _faceless_people(found: Objects, faces: np.ndarray, *, wide: bool = False) -> np.ndarray:
    """``[N]`` True for the detected people none of the ``faces`` ``[F, 4]`` belongs to; a face counts
    for the one person it belongs to (:func:`person_holding`), not for a neighbour whose box overlaps
    it, and — when ``wide`` — without one, for the smallest box around it within
    :data:`SUBJECT_FACE_SPAN` (that person with arms out, or with a neighbour)."""
    people = np.array([label == "person" for label in found.labels], dtype=bool)
    holder = person_holding(faces, found)
    if wide:
        holder = np.where(holder >= 0, holder, person_holding(faces, found, SUBJECT_FACE_SPAN))
    people[holder[holder >= 0]] = False
    return people


def _head_in_photo(boxes: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``[N]`` True for person boxes ``[N, 4]`` whose head is on their top edge, inside the ``content``
    box ``[4]``: not cut off by its top (:data:`EDGE_MARGIN`) and not much wider than tall
    (:data:`UNSEEN_HEAD_MAX_ASPECT`)."""
    upright = boxes[:, 2] - boxes[:, 0] <= UNSEEN_HEAD_MAX_ASPECT * (boxes[:, 3] - boxes[:, 1])
    return ~_cut_by_top(boxes, content) & upright


def _cut_by_top(boxes: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``[N]`` True for boxes ``[N, 4]`` that the ``content`` box's ``[4]`` top cuts (:data:`EDGE_MARGIN`)."""
    return boxes[:, 1] <= content[1] + EDGE_MARGIN * (content[3] - content[1])


def cut_by_side(boxes: np.ndarray, content: np.ndarray, *, largest: np.ndarray) -> np.ndarray:
    """``[N]`` True for the boxes ``[N, 4]`` that the photo's left or right edge (of the ``content``
    box ``[4]``) cuts (:data:`EDGE_MARGIN`) and that are not the ``largest`` ``[N]``: bystanders at
    the edge of a group or a crowd."""
    return _cut_by_sides(boxes, content) & ~largest


def _cut_by_sides(boxes: np.ndarray, content: np.ndarray, share: float = EDGE_MARGIN) -> np.ndarray:
    """``[N]`` True for boxes ``[N, 4]`` that the ``content`` box's ``[4]`` left or right edge cuts
    (within ``share`` of its width; default :data:`EDGE_MARGIN`)."""
    margin = share * (content[2] - content[0])
    return (boxes[:, 0] <= content[0] + margin) | (boxes[:, 2] >= content[2] - margin)


def _tent(coords: np.ndarray, low: float, high: float) -> np.ndarray:
    """1 at the middle of ``[low, high)``, :data:`EDGE_LEVEL` at its ends, 0 outside: ``[n]``."""
    half = max((high - low) / 2, MIN_HALF_SIDE)
    distance = np.abs(coords - (low + high) / 2) / half  # 0 at the middle, 1 at the edges
    return np.where(distance < 1.0, 1.0 - (1.0 - EDGE_LEVEL) * distance, 0.0).astype(np.float32)


__all__ = [
    "HEAD_DETAIL_SHARE",
    "MAIN_SUBJECT_SCORE",
    "MAIN_SUBJECT_SHARE",
    "PERSON_FACE_SPAN",
    "SHARP_DETAIL",
    "SOFTER_THAN_SUBJECT",
    "SUBJECT_FACE_SPAN",
    "SUBJECT_LABELS",
    "VEHICLE_LABELS",
    "UNSEEN_HEAD_MAX_ASPECT",
    "UNSEEN_HEAD_TALL",
    "UNSEEN_HEAD_WIDTH",
    "bodies_below_top",
    "cut_by_side",
    "detected_subjects",
    "estimated_heads",
    "hands_reaching_in",
    "held_vehicles",
    "holding",
    "is_main_subject",
    "main_subjects",
    "person_holding",
    "sharp_subjects",
    "sized_to_faces",
    "subjects_prior",
    "unseen_heads",
    "with_vehicles",
]
