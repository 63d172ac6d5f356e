"""The saliency map: the cues mixed, people first, inside the photo's frame.

:class:`SaliencyMap` carries the map, the edge energy and integral images of both (the saliency
mass inside a box, or the clutter along its border, costs O(1) per box).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

import promptcrop.saliency.ndimage_lite as ndimage  # scipy.ndimage's functions without its import time
from promptcrop import boxes as B
from promptcrop.saliency import objects
from promptcrop.saliency.cues import (
    CUE_FLOORS,
    CUE_WEIGHTS,
    FACE_SKIN_LEVEL,
    IMAGE_CUES,
    centre_prior,
    colour_contrast,
    detail_blocks,
    edge_energy,
    face_blobs,
    focus_cue,
    saturation,
    skin_tone,
    spectral_residual,
    uncommon,
)
from promptcrop.saliency.frame import frame_artefacts
from promptcrop.saliency.grid import (
    WORK_SIDE,
    at_least,
    blur_sigma,
    box_sums,
    box_window,
    check_image,
    clip_to,
    integral,
    normalise,
    reduce,
    resize_map,
)
from promptcrop.saliency.litert import Once, in_background
from promptcrop.saliency.marks import corner_marks
from promptcrop.saliency.objects import Objects
from promptcrop.saliency.people import (
    MAIN_PERSON_SHARE,
    detected_faces,
    face_cores,
    head_boxes,
    people_prior,
    person_boxes,
    with_clothing,
)
from promptcrop.saliency.subjects import (
    bodies_below_top,
    cut_by_side,
    detected_subjects,
    hands_reaching_in,
    held_vehicles,
    main_subjects,
    person_holding,
    sharp_subjects,
    sized_to_faces,
    subjects_prior,
    unseen_heads,
    with_vehicles,
)

#: No subject detected (or no object detector).
NO_SUBJECTS = Objects(np.zeros((0, 4)), np.zeros(0), ())


#: A detected subject this much inside a person box (share of its area) is that person.
SAME_PERSON = 0.9


#: Floor of the final normalisation (the mixed map is squared, so 0.04 is a mixed level of 0.2).
MAP_FLOOR = 0.04


#: Share of the map's cells whose saliency mass measures how concentrated the map is
#: (:attr:`SaliencyMap.concentration`): the most salient tenth.
CONCENTRATED_CELLS = 0.1


@dataclass(eq=False)
class SaliencyMap:
    """A saliency map at reduced resolution plus what the composer needs to query it fast.

    - ``values``: float32 ``[h, w]`` in [0, 1], saliency on the reduced grid (``h, w ≤ max_side``).
    - ``edges``: float32 ``[h, w]`` in [0, 1], edge energy (normalised Sobel magnitude) on the
      same grid.
    - ``image_size``: ``(W, H)`` of the full image the map describes.
    - ``faces``: float ``[F, 4]`` xyxy px of the full image, heads (detected faces with headroom,
      or face-like skin blobs) that :func:`salient_region` always keeps (``F`` may be 0, the default).
    - ``face_cores``: float ``[F, 4]`` xyxy px, the face inside each head of ``faces`` (same order;
      the head from the detected face's top down, without the hair and air above:
      :func:`promptcrop.saliency.people.face_cores`): a crop too short for a head holds its face as
      fully as it can, and cuts the hair and the air above it rather than the chin. Default: the
      heads themselves.
    - ``content``: float ``[4]`` xyxy px, the photo without borders, bars, caption banners and
      blurred fill (default: the whole image); crops stay inside it when they can.
    - ``fill``: whether ``content`` leaves out blurred fill (a photo or video set into a blurred
      copy of itself): crops may take fill in when that keeps clearly more of the subject
      (:data:`promptcrop.composer.FRAME_GIVE_UP`), never bars or banners.
    - ``people``: float ``[P, 4]`` xyxy px, the subjects :func:`salient_region` keeps besides the
      saliency: a person box per main detected face (its head and the detected person it belongs
      to, or the body below it grown over the clothing connected to the torso:
      :data:`CLOTHING_REACH`; see :data:`MAIN_PERSON_SHARE`), and the main subjects the object
      detector found that no such box holds (people, animals, or a lone vehicle:
      :mod:`promptcrop.saliency.subjects`), with the vehicles they ride or stand before.
    - ``heads``: float ``[H, 4]`` xyxy px, where the heads of main detected people are whose face
      the face detector did not find (:func:`promptcrop.saliency.subjects.unseen_heads`): a crop
      edge should not pass through them.
    - ``marks``: float ``[M, 4]`` xyxy px, corner watermarks and text
      (:func:`promptcrop.saliency.marks.corner_marks`) that crops leave out when they can; empty
      unless :func:`compute_saliency` was asked to look for them.

    Box arguments of the methods are ``[N, 4]`` (or ``[4]``) xyxy pixels of the full image.
    """

    values: np.ndarray
    edges: np.ndarray
    image_size: tuple[int, int]
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    face_cores: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    content: np.ndarray | None = None
    people: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    heads: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    marks: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    fill: bool = False

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        self.edges = np.asarray(self.edges, dtype=np.float32)
        if self.values.ndim != 2 or self.values.shape != self.edges.shape or self.values.size == 0:
            raise ValueError(
                f"values and edges must be non-empty 2-D maps of one shape, got "
                f"{self.values.shape} and {self.edges.shape}"
            )
        width, height = self.image_size
        if width <= 0 or height <= 0:
            raise ValueError(f"image_size must be positive (W, H), got {self.image_size}")
        self.faces = np.asarray(self.faces, dtype=np.float64)
        if self.faces.size == 0:
            self.faces = np.zeros((0, 4))
        if self.faces.ndim != 2 or self.faces.shape[1] != 4 or not np.isfinite(self.faces).all():
            raise ValueError(f"faces must be finite boxes of shape [F, 4], got {self.faces.shape}")
        for name in ("face_cores", "people", "heads", "marks"):
            boxes = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1, 4)
            if not np.isfinite(boxes).all():
                raise ValueError(f"{name} must be finite boxes of shape [N, 4]")
            setattr(self, name, boxes)
        if not len(self.face_cores):
            self.face_cores = self.faces.copy()
        if len(self.face_cores) != len(self.faces):
            raise ValueError(f"face_cores must hold one box per face ({len(self.faces)}), got {len(self.face_cores)}")
        full = np.array([0.0, 0.0, float(width), float(height)])
        self.content = full if self.content is None else np.asarray(self.content, dtype=np.float64).reshape(4)
        if not np.isfinite(self.content).all() or (self.content[2:] <= self.content[:2]).any():
            raise ValueError(f"content must be a box [x1, y1, x2, y2] with area, got {self.content.tolist()}")

    # The summed-area tables, built when first read: a map made on the way to another (the reduced
    # copy's, before its boxes are scaled to the full image) never needs them.
    @functools.cached_property
    def _sat_values(self) -> np.ndarray:
        return integral(self.values)

    @functools.cached_property
    def _sat_clutter(self) -> np.ndarray:
        """Clutter along a crop border: cutting through edges or through salient content."""
        return integral(np.maximum(self.edges, self.values))

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: map pixels per full-image pixel."""
        h, w = self.values.shape
        return w / self.image_size[0], h / self.image_size[1]

    @property
    def concentration(self) -> float:
        """How strongly the map singles something out, in [0, 1]: the share of its saliency mass
        held by its most salient :data:`CONCENTRATED_CELLS` of cells. A flat map (or one with no
        saliency) gives :data:`CONCENTRATED_CELLS`, a map whose mass sits in a tenth of the frame 1."""
        if self.total <= 0:
            return CONCENTRATED_CELLS
        flat = self.values.ravel()
        top = max(1, round(CONCENTRATED_CELLS * flat.size))
        return float(np.partition(flat, flat.size - top)[flat.size - top :].sum() / self.total)

    @property
    def total(self) -> float:
        """Total saliency mass of the map (sum of ``values``)."""
        return float(self._sat_values[-1, -1])

    def region_mass(self, boxes_xyxy_px: np.ndarray) -> np.ndarray:
        """Share of the total saliency inside each box: ``[N, 4]`` px → ``[N]`` in [0, 1].

        Fractional box edges are handled by interpolating the integral image, so the share varies
        smoothly with the box. A map with no saliency at all gives the box's share of the image area.
        """
        boxes = self._to_grid(boxes_xyxy_px)
        if self.total <= 0:
            h, w = self.values.shape
            return np.clip(B.box_area(B.clamp_xyxy(boxes, w, h)) / (w * h), 0.0, 1.0)
        return np.clip(box_sums(self._sat_values, boxes) / self.total, 0.0, 1.0)

    def edge_energy_along(self, boxes_xyxy_px: np.ndarray, band: float = 0.04) -> np.ndarray:
        """Mean clutter in a band just inside each box border: ``[N, 4]`` px → ``[N]`` in [0, 1].

        Clutter is ``max(edges, values)`` — a border that runs through texture edges or through
        salient content scores high. ``band`` is the band's thickness as a share of the box's
        width (left/right bands) or height (top/bottom bands); it is at least one map pixel. The
        band is the box minus the box shrunk by the band (two box sums); parts outside the image
        are left out of the mean.
        """
        boxes = self._to_grid(boxes_xyxy_px)
        bw = np.maximum((boxes[:, 2] - boxes[:, 0]) * band, 1.0)
        bh = np.maximum((boxes[:, 3] - boxes[:, 1]) * band, 1.0)
        inner = boxes + np.stack([bw, bh, -bw, -bh], axis=-1)
        inner[:, 2:] = np.maximum(inner[:, 2:], inner[:, :2])  # a box thinner than two bands
        h, w = self.values.shape
        ring_area = B.box_area(B.clamp_xyxy(boxes, w, h)) - B.box_area(B.clamp_xyxy(inner, w, h))
        outer_sum, inner_sum = np.split(box_sums(self._sat_clutter, np.concatenate([boxes, inner])), 2)  # one pass
        ring_sum = outer_sum - inner_sum
        return np.clip(ring_sum / np.maximum(ring_area, 1e-6), 0.0, 1.0)

    def _to_grid(self, boxes_xyxy_px: np.ndarray) -> np.ndarray:
        """``[N, 4]`` full-image px → ``[N, 4]`` map px (float64)."""
        sx, sy = self.scale
        boxes = np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)
        return boxes * np.array([sx, sy, sx, sy])


def warm_up_detectors() -> Callable[[], object]:
    """Start building the process-wide face and object detectors in a background thread, once per
    process, so that their models are read and compiled (through LiteRT's C API, native code that
    releases the GIL; on its Python ``Interpreter`` fallback, holding it) while the caller goes on
    importing, decoding and computing cues; the first
    :func:`compute_saliency` then finds them ready, or waits for them. A detector that is not
    installed, or cannot be used, is simply not built (its one-line notice is printed as usual).
    Returns a function that waits until the building is done (for callers that replace the
    detectors, such as tests)."""
    global _WARMING
    with _WARM_LOCK:
        if _WARMING is None:
            from promptcrop.saliency.faces import default_detector
            from promptcrop.saliency.objects import default_object_detector

            _WARMING = in_background(lambda: (default_detector(), default_object_detector()))
        return _WARMING


_WARMING: Callable[[], object] | None = None
_WARM_LOCK = threading.Lock()


def compute_saliency(
    image_rgb: np.ndarray,
    *,
    max_side: int = 128,
    faces: str | np.ndarray = "auto",
    frame: bool = True,
    image_size: tuple[int, int] | None = None,
    subjects: bool = True,
    marks: bool = False,
    motion: np.ndarray | None = None,
) -> SaliencyMap:
    """Saliency of an RGB image from image statistics and, when installed, a face and an object
    detector.

    ``image_rgb``: uint8 ``[H, W, 3]``. The image is reduced (box filter) so that its long side is
    at most ``max_side`` px, and every cue is computed on that copy or coarser; returns a
    :class:`SaliencyMap` whose ``values`` and ``edges`` are float32 ``[h, w]`` in [0, 1]
    (``max(h, w) <= max_side``), whose ``image_size`` is ``(W, H)``, whose ``content`` is the
    photo without its frame artefacts (:func:`content_box`, when ``frame``; saliency outside it is
    0), whose ``faces`` are head boxes (face plus headroom), ``[F, 4]`` xyxy px of the full image,
    whose ``people`` are the person and subject boxes to keep, ``[P, 4]`` xyxy px, and whose
    ``heads`` are the estimated heads of main detected people whose face was not found
    (:func:`promptcrop.saliency.subjects.unseen_heads`), ``[H, 4]`` xyxy px.

    ``faces``: ``"auto"`` — the pretrained detector of :mod:`promptcrop.saliency.faces` when it is
    installed, else the face-like skin blobs; ``"detector"`` — the detector only (none when it is
    missing); ``"skin"`` — the skin blobs only; or face boxes ``[F, 4]`` xyxy px found elsewhere.
    Detected faces also add a cue of their own (the face and the body below it), so people come
    first in the map.

    ``subjects``: also look for people and animals (a lone vehicle) with the object detector of
    :mod:`promptcrop.saliency.objects` when it is installed (:mod:`promptcrop.saliency.subjects`):
    they add a cue, and the main ones join ``people``, with the vehicles they ride or stand before
    (a rider's motorbike, the bicycle a dog waits by: :func:`~promptcrop.saliency.subjects.held_vehicles`).
    A detected "person" whose head is not in the photo — a hand or an arm reaching in, a body below
    the top (:func:`~promptcrop.saliency.subjects.hands_reaching_in`,
    :func:`~promptcrop.saliency.subjects.bodies_below_top`) — is none of these: it adds no
    cue; and the skin-toned pixels in a hand's box (:func:`~promptcrop.saliency.subjects.hands_reaching_in`)
    count for nothing in the image's cues, so what the hand holds stands out, not the hand. The object detector runs in a background thread while the cues are computed and the face
    detector runs.

    ``marks``: also look for corner watermarks and text on the whole image
    (:func:`promptcrop.saliency.marks.corner_marks`; the map's ``marks``). With the object
    detector, the search is run by whichever of the two threads is free first: the detector's when
    it is done before the cues and the face detector, else the calling thread (three threads would
    share two cores); without it, and on a framed photo, in a background thread beside the cues.

    ``image_size``: ``(W, H)`` of the full image when ``image_rgb`` is a reduced copy of it (see
    :func:`promptcrop.images.load_preview`): the map then describes that image, and every box it
    holds (``faces``, ``people``, ``heads``, ``marks``, ``content``; face boxes passed in) is in
    its pixels.

    ``motion``: what moved in a video frame (float ``[mh, mw]`` over the whole image, any
    resolution, in grey levels: :func:`promptcrop.reframe.motion.motion_map`), one more cue
    (``CUE_WEIGHTS["motion"]``), not read in a picture inside frame artefacts; None: none.
    """
    image_rgb = check_image(image_rgb)
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    if image_size is not None:
        full_w, full_h = (int(v) for v in image_size)
        if full_w < 1 or full_h < 1:
            raise ValueError(f"image_size must be positive (W, H), got {image_size}")
        to_full = np.array([full_w / image_rgb.shape[1], full_h / image_rgb.shape[0]] * 2)
        if not isinstance(faces, str):
            faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4) / to_full
        sal = compute_saliency(image_rgb, max_side=max_side, faces=faces, frame=frame, subjects=subjects, marks=marks,
                               motion=motion)
        return SaliencyMap(
            values=sal.values, edges=sal.edges, image_size=(full_w, full_h), faces=sal.faces * to_full,
            face_cores=sal.face_cores * to_full, content=sal.content * to_full, people=sal.people * to_full,
            heads=sal.heads * to_full, marks=sal.marks * to_full, fill=sal.fill,
        )
    height, width = image_rgb.shape[:2]
    full = np.array([0.0, 0.0, float(width), float(height)])
    pil = Image.fromarray(image_rgb)
    work = reduce(pil, WORK_SIDE)  # one shared copy for the frame, focus and map sizes
    content, fill = frame_artefacts(np.asarray(work), width, height) if frame else (full, False)
    if not np.array_equal(content, full):
        # Motion is not read inside bars or blurred fill: with the fill flat, the frame's detail is
        # all in the picture, and a zoom leaves differences along its edges that pass for a small mover.
        return _framed_saliency(image_rgb, content, max_side=max_side, faces=faces, subjects=subjects, fill=fill,
                                marks=marks)
    # The object detector runs beside the cues and the face detector (LiteRT releases the GIL while
    # a model runs); the face detector runs here after the cues: two threads share the two cores,
    # not three. Whether it runs is known without waiting for its build, which the thread awaits.
    detecting = subjects and objects.object_detector_expected()
    search_marks = _marks_search(image_rgb, marks, beside=not detecting)
    found_subjects = in_background(_subjects_then, search_marks, pil, content) if detecting else lambda: None
    try:
        small = reduce(work if max_side <= WORK_SIDE else pil, max_side)
        to_small = np.array([small.width / width, small.height / height] * 2)
        luma = small.convert("L")
        skin = skin_tone(small)
        likeness, skin_faces = face_blobs(skin)
        detail = detail_blocks(work)
        cues = {
            "contrast": colour_contrast(small),
            "spectral": spectral_residual(luma),
            "saturation": uncommon(saturation(small)),
            "skin": uncommon(skin),
            "face": skin * likeness,
            "focus": focus_cue(detail, small.size),
        }
        detected = detected_faces(pil, content, faces)
    except BaseException:
        if isinstance(search_marks, Once):  # the detector's thread must not search a failed photo's marks
            search_marks.cancel()
        raise
    if detected is not None and len(detected):
        cues["detected"] = people_prior(detected * to_small, small.size)
    found_marks = search_marks()  # here, unless the object detector's thread was done first and took it
    animate, vehicles = with_vehicles(found_subjects() or NO_SUBJECTS)
    found = sharp_subjects(animate, detail, (width, height))
    if detected is not None:
        found = sized_to_faces(found, detected)
    seen_faces = skin_faces / to_small if detected is None else detected
    hands = hands_reaching_in(found, seen_faces, content, detail, (width, height))
    hand_skin = _skin_inside(found.boxes.reshape(-1, 4)[hands] * to_small, skin)
    found = found.where(~(hands | bodies_below_top(found, seen_faces, content)))  # headless: part of the picture
    if len(found):
        cues["subjects"] = subjects_prior(found.boxes * to_small, found.scores, small.size)
    if motion is not None:
        cues["motion"] = _on_grid(motion, small.size)
    if detected is None:
        face_boxes, people = seen_faces, np.zeros((0, 4))
        cores = face_boxes
    else:
        face_boxes, people = _heads_and_people(detected, found, small, to_small, content)
        cores = clip_to(face_cores(detected), content)
    main = main_subjects(found.boxes, found.scores, content)
    main = np.concatenate([main, held_vehicles(vehicles, main, detail, (width, height), content)])
    people = _with_subjects(people, clip_to(main, content))
    heads = unseen_heads(found, seen_faces, content)
    return SaliencyMap(
        values=_mixed(cues, small.size, without=hand_skin), edges=edge_energy(luma), image_size=(width, height), faces=face_boxes,
        face_cores=cores, content=content, people=people, heads=clip_to(heads, content), marks=found_marks,
    )


def _marks_search(image_rgb: np.ndarray, wanted: bool, *, beside: bool) -> Callable[[], np.ndarray]:
    """The corner-mark search of ``image_rgb`` (uint8 ``[H, W, 3]``) as a function giving its boxes
    ``[M, 4]`` xyxy px: started now in a background thread when ``beside``, else a :class:`Once`
    run by the first thread free for it (:func:`_subjects_then`); empty when not ``wanted``."""
    if not wanted:
        return lambda: np.zeros((0, 4))
    if beside:
        return in_background(corner_marks, image_rgb)
    return Once(corner_marks, image_rgb)


def _subjects_then(search_marks: Callable[[], np.ndarray], image: Image.Image, content: np.ndarray) -> Objects | None:
    """:func:`detected_subjects` of ``image`` (``content`` ``[4]`` in its px), shown to the detector
    no smaller than its input (:func:`~promptcrop.saliency.grid.at_least`), then the corner-mark
    search when it is a :class:`Once` no thread has started: the object detector's thread, done
    before the cues and the face detector, takes it from the calling thread."""
    seen = at_least(image, objects.INPUT_SIDE)
    found = detected_subjects(seen, content, np.array([seen.width / image.width, seen.height / image.height] * 2))
    if isinstance(search_marks, Once):
        search_marks.if_free()
    return found


def _mixed(cues: dict[str, np.ndarray], size: tuple[int, int], without: np.ndarray | None = None) -> np.ndarray:
    """The saliency values ``[h, w]`` in [0, 1] from the cues (each ``[h, w]`` on the map grid of
    ``size`` = ``(w, h)``): weighted, under the centre prior, opened, squared, blurred, normalised.
    ``without`` (bool ``[h, w]``): pixels where the image's own cues (:data:`IMAGE_CUES`) count
    for nothing, before each is normalised (the detectors' cues are kept)."""
    if without is not None and without.any():
        cues = {name: np.where(without, 0.0, cue) if name in IMAGE_CUES else cue for name, cue in cues.items()}
    mixed = sum(CUE_WEIGHTS[name] * normalise(cue, CUE_FLOORS[name]) for name, cue in cues.items())
    mixed = mixed * centre_prior(size)
    # Opening removes thin structures (lines, fine texture) that no crop should be built around;
    # squaring sharpens the map so weak, widespread responses fade against the subject.
    mixed = ndimage.grey_opening(mixed, size=(3, 3)) if min(mixed.shape) >= 9 else mixed
    blurred = ndimage.gaussian_filter(np.square(mixed), sigma=blur_sigma(mixed.shape))
    return normalise(blurred, MAP_FLOOR)


def _skin_inside(boxes_small: np.ndarray, skin: np.ndarray) -> np.ndarray | None:
    """Skin-toned pixels (membership ≥ :data:`~promptcrop.saliency.cues.FACE_SKIN_LEVEL`) of the
    ``skin`` map ``[h, w]`` inside the boxes ``[N, 4]`` (map px): bool ``[h, w]``, None without boxes.
    Inside a hand reaching in (:func:`~promptcrop.saliency.subjects.hands_reaching_in`) they are the
    hand and the arm, which show what they hold and are not themselves what to keep."""
    if not len(boxes_small):
        return None
    inside = np.zeros(skin.shape, dtype=bool)
    for box in np.asarray(boxes_small, dtype=np.float64):
        inside[box_window(box, *skin.shape)] = True
    return inside & (skin >= FACE_SKIN_LEVEL)


def _heads_and_people(
    detected: np.ndarray, found: Objects, small: Image.Image, to_small: np.ndarray, content: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Head boxes ``[F, 4]`` of the detected faces ``[F, 4]`` and the person boxes ``[P, 4]`` of the
    main ones (:data:`MAIN_PERSON_SHARE`; people in the background and faces cut by the photo's
    side, unless the largest, do not widen the region), all image px clipped to ``content`` ``[4]``."""
    if not len(detected):
        return np.zeros((0, 4)), np.zeros((0, 4))
    side = np.sqrt(B.box_area(detected))
    main = (side >= MAIN_PERSON_SHARE * side.max()) & ~cut_by_side(detected, content, largest=side == side.max())
    return clip_to(head_boxes(detected), content), clip_to(_people_of(detected[main], found, small, to_small), content)


def _with_subjects(people: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """Person boxes ``[P, 4]`` and the main detected subjects ``[S, 4]`` not already inside one of
    them (a detected person that holds a detected face is that face's person box already)."""
    if len(people) and len(subjects):
        subjects = subjects[(B.box_coverage(people, subjects) < SAME_PERSON).all(axis=0)]
    return np.concatenate([people, subjects])


def _people_of(faces: np.ndarray, found: Objects, small: Image.Image, to_small: np.ndarray) -> np.ndarray:
    """The person box of each face ``[F, 4]`` (image px): its head box united with the detected
    person it belongs to (:func:`person_holding`), or — without one — the body prior grown over the
    clothing below the face (:func:`with_clothing`). ``[F, 4]`` image px."""
    people = person_boxes(faces)
    holder = person_holding(faces, found)
    alone = holder < 0
    if alone.any():
        people[alone] = with_clothing(people[alone], faces[alone], small, to_small)
    held = ~alone
    if held.any():
        people[held] = B.union_box(np.stack([head_boxes(faces[held]), found.boxes[holder[held]]], axis=-2))
    return people


def _on_grid(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float map ``[mh, mw]`` over the whole image, checked, on the map grid of ``size`` =
    ``(w, h)`` (:func:`~promptcrop.saliency.grid.resize_map`): float32 ``[h, w]``."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or not values.size or not np.isfinite(values).all():
        raise ValueError(f"motion must be a finite 2-D map, got shape {values.shape}")
    return resize_map(values, size)


def _framed_saliency(
    image_rgb: np.ndarray, content: np.ndarray, *, max_side: int, faces: str | np.ndarray, subjects: bool,
    fill: bool, marks: bool,
) -> SaliencyMap:
    """Saliency of a photo inside frame artefacts: every cue is computed on the ``content`` box
    ``[4]`` alone (a black banner must not make the whole photo look distinct), then the map is
    placed in a zero map of the whole image at the same scale; ``fill``: the artefacts include
    blurred fill. Corner marks (``marks``) are looked for on the whole image, in a background
    thread meanwhile."""
    search_marks = _marks_search(image_rgb, marks, beside=True)
    height, width = image_rgb.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in content)
    offset = np.array([x1, y1, x1, y1], dtype=np.float64)
    if not isinstance(faces, str):
        faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4) - offset
    side = max(1, math.floor(max_side * max(x2 - x1, y2 - y1) / max(width, height)))
    inner = compute_saliency(image_rgb[y1:y2, x1:x2], max_side=side, faces=faces, frame=False, subjects=subjects)
    sx, sy = inner.scale
    grid_h, grid_w = max(1, round(height * sy)), max(1, round(width * sx))
    oy, ox = min(round(y1 * sy), grid_h - 1), min(round(x1 * sx), grid_w - 1)
    h, w = inner.values.shape
    h, w = min(h, grid_h - oy), min(w, grid_w - ox)
    values = np.zeros((grid_h, grid_w), dtype=np.float32)
    edges = np.zeros((grid_h, grid_w), dtype=np.float32)
    values[oy : oy + h, ox : ox + w] = inner.values[:h, :w]
    edges[oy : oy + h, ox : ox + w] = inner.edges[:h, :w]
    return SaliencyMap(
        values=values, edges=edges, image_size=(width, height), faces=inner.faces + offset,
        face_cores=inner.face_cores + offset, content=content, people=inner.people + offset,
        heads=inner.heads + offset, marks=search_marks(), fill=fill,
    )
