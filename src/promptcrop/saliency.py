"""Weight-free saliency for the offline mode: where the eye goes, from image statistics alone.

No model files. The image is first reduced with Pillow to at most ``max_side`` pixels on its long
side (default 128; a box filter, so a 12-MP photo costs about what a small one does), then four
cues are mixed:

- **colour contrast** — CIE Lab distance of each (slightly blurred) pixel from the image's mean
  colour and from the nearest image side's median colour (a background prior: what looks unlike the
  borders stands out); computed at 64 px.
- **spectral residual** (Hou & Zhang, CVPR 2007) on the luminance at 64 px: what the log amplitude
  spectrum does not predict.
- **saturation** — vivid colours (dark pixels damped), beyond the image's typical saturation.
- **skin tone** — a soft YCbCr skin-colour membership (Chai & Ngan 1999 ranges), beyond the
  image's typical level.
- **face** — skin tone again, but only on *face-like* skin blobs: compact (the blob fills much of
  its bounding box, as an ellipse does), about as tall as a head is (height / width near
  :data:`FACE_ASPECT`) and of a plausible size (:data:`FACE_AREA`). The cue fades out when skin
  tones cover much of the image (wood, sand, fur), where the colour singles nothing out. It is added
  on top of the other cues, so a face weighs about as much as a large vivid area next to it (an
  orange suit) instead of fading against it.

Each cue is scaled by an absolute "full strength" (:data:`CUE_FLOORS`) rather than its own peak,
so a flat image stays flat. The mix is opened (thin lines and grain removed), squared (faint,
widespread texture fades against the subject) and blurred.

Blobs that are clearly face-like (score ≥ :data:`FACE_KEEP_SCORE`) are also returned as boxes
(``SaliencyMap.faces``), and :func:`salient_region` always keeps them: a photographer may cut a
body, never the head.

The result, :class:`SaliencyMap`, also carries an **edge energy** map (Sobel magnitude of the
luminance) that the composer uses to keep crop borders simple, and integral images of both maps so
that the saliency mass inside any box, or the clutter along its borders, costs O(1) per box.

Boxes passed to the methods are xyxy pixels of the *full* image (``image_size``); they are mapped
to the reduced grid internally and may extend past the image (the outside counts as empty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy import fft
from PIL import Image, ImageCms, ImageFilter

from promptcrop import boxes as B
from promptcrop import ndimage_lite as ndimage  # scipy.ndimage's functions without its import time
from promptcrop.ndimage_lite import threshold_otsu

#: Working resolution (long side, px) of the colour-contrast and spectral-residual cues.
COARSE_SIDE = 64
#: Weights of the cues in the mixed map (colour contrast, spectral residual, saturation, skin, face).
#: The first four sum to 1; the face cue comes on top (the map is normalised by its peak anyway).
CUE_WEIGHTS = {
    "contrast": 0.45, "spectral": 0.15, "saturation": 0.15, "skin": 0.25, "face": 0.25, "focus": 0.35,
    "detected": 0.6,
}
#: Cue strength that counts as full: weaker cues are scaled by this, not by their own maximum,
#: so a nearly flat image is not stretched into a saliency map of noise. Units: contrast in Lab,
#: saturation and skin membership in [0, 1]; the spectral residual comes in [0, 1], already
#: faded by the image contrast.
CUE_FLOORS = {
    "contrast": 12.0, "spectral": 1.0, "saturation": 0.2, "skin": 0.2, "face": 0.2, "focus": 0.5,
    "detected": 1.0,
}
#: Skin membership (in [0, 1]) from which a pixel counts as skin when skin blobs are formed.
FACE_SKIN_LEVEL = 0.3
#: Typical height / width of a face with its hair, and the spread (log units) of that preference.
FACE_ASPECT = 1.25
FACE_ASPECT_SPREAD = 0.4
#: Blob area as a share of the image: a face smaller than 1 % is not the subject (and skin-toned
#: patches of texture are that small), one larger than 25 % is a skin-toned scene, not a face.
FACE_AREA = (0.01, 0.25)
#: Share of skin-toned pixels in the image at which the face cue starts to fade, and where it is gone.
FACE_COMMON_SKIN = (0.15, 0.3)
#: Face-likeness (in [0, 1]) from which a skin blob is reported as a face and always kept.
FACE_KEEP_SCORE = 0.3
#: Floor of the final normalisation (the mixed map is squared, so 0.04 is a mixed level of 0.2).
MAP_FLOOR = 0.04
#: Luminance standard deviation (in [0, 1]) below which the spectral residual is faded out.
SPECTRAL_MIN_STD = 0.02
#: Luminance step (in [0, 1]) whose edge energy counts as full (1.0).
EDGE_FULL_SCALE = 0.25
#: Head box around a detected face: (left, top, right, bottom) margins as shares of the face's
#: width / height — the hair and some headroom above, the ears at the sides, the chin below.
HEAD_MARGINS = (0.2, 0.6, 0.2, 0.15)
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
#: Long side (px) of the reduced copy the frame search and the in-focus cue work on.
WORK_SIDE = 384
#: Frame artefacts: how far a band may reach, how neutral and flat it must be, and how clear the
#: step into the photo.
BAND_MAX_SHARE = 0.35
BAND_MAX_CHROMA = 28.0
BAND_DARK, BAND_LIGHT = 60.0, 200.0  # bars and banners are dark or light, not mid-grey
BAND_COLOUR_TOLERANCE = 22.0
BAND_FLAT_SHARE = 0.85
BAND_TEXT_ALLOWANCE = 0.7
BAND_STEP_SHARE = 0.5
#: Centre prior: a photographer's subject is rarely at the very edge. 1 at the centre,
#: ``1 - CENTRE_PRIOR_DEPTH`` at the corners.
CENTRE_PRIOR_DEPTH = 0.35
#: In-focus cue: the detail level (share of the image's 98th percentile) below which an area
#: counts as blurred, and the blurred share of the frame over which the cue fades in.
FOCUS_BLUR_LEVEL = 0.05
FOCUS_BLURRED_SHARE = (0.3, 0.6)
#: Corner marks (text and logo watermarks): the long side (px) of the copy they are searched on, the
#: share of the width and height from each corner searched, the side of the opening / closing whose
#: residue are the strokes, the least stroke contrast (grey levels), the glyph sizes (px; the
#: tallest as a share of the corner), and what a text line must show: glyphs, near-constant stroke
#: width (coefficient of variation), a shared baseline (median deviation, glyph heights), length
#: (width / height) and quiet rows above and below (glyph density there relative to the line's).
MARK_SIDE = 768
MARK_CORNER_SHARE = 0.25
MARK_STROKE_WINDOW = 7
MARK_STROKE_CONTRAST = 28.0
MARK_GLYPH_HEIGHT = (4, 0.4)
MARK_MIN_GLYPHS = 5
MARK_STROKE_SPREAD = 0.3
MARK_BASELINE_SPREAD = 0.1
MARK_MIN_LENGTH = 3.0
MARK_QUIET = 0.5

_SRGB_TO_LAB = ImageCms.buildTransform(
    ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"
)


@dataclass
class SaliencyMap:
    """A saliency map at reduced resolution plus what the composer needs to query it fast.

    - ``values``: float32 ``[h, w]`` in [0, 1], saliency on the reduced grid (``h, w ≤ max_side``).
    - ``edges``: float32 ``[h, w]`` in [0, 1], edge energy (normalised Sobel magnitude) on the
      same grid.
    - ``image_size``: ``(W, H)`` of the full image the map describes.
    - ``faces``: float ``[F, 4]`` xyxy px of the full image, heads (detected faces with headroom,
      or face-like skin blobs) that :func:`salient_region` always keeps (``F`` may be 0, the default).
    - ``content``: float ``[4]`` xyxy px, the photo without borders, bars and caption banners
      (default: the whole image); crops stay inside it when they can.
    - ``people``: float ``[P, 4]`` xyxy px, a person box (head and the body below it, grown over
      the clothing connected to the torso: :data:`CLOTHING_REACH`) per main detected face (see
      :data:`MAIN_PERSON_SHARE`); :func:`salient_region` keeps them.

    Box arguments of the methods are ``[N, 4]`` (or ``[4]``) xyxy pixels of the full image.
    """

    values: np.ndarray
    edges: np.ndarray
    image_size: tuple[int, int]
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    content: np.ndarray | None = None
    people: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    _sat_values: np.ndarray = field(init=False, repr=False)
    _sat_clutter: np.ndarray = field(init=False, repr=False)

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
        self.people = np.asarray(self.people, dtype=np.float64).reshape(-1, 4)
        full = np.array([0.0, 0.0, float(width), float(height)])
        self.content = full if self.content is None else np.asarray(self.content, dtype=np.float64).reshape(4)
        if not np.isfinite(self.content).all() or (self.content[2:] <= self.content[:2]).any():
            raise ValueError(f"content must be a box [x1, y1, x2, y2] with area, got {self.content.tolist()}")
        self._sat_values = _integral(self.values)
        # Clutter along a crop border: cutting through edges or through salient content.
        self._sat_clutter = _integral(np.maximum(self.edges, self.values))

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: map pixels per full-image pixel."""
        h, w = self.values.shape
        return w / self.image_size[0], h / self.image_size[1]

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
        return np.clip(_box_sums(self._sat_values, boxes) / self.total, 0.0, 1.0)

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
        ring_sum = _box_sums(self._sat_clutter, boxes) - _box_sums(self._sat_clutter, inner)
        return np.clip(ring_sum / np.maximum(ring_area, 1e-6), 0.0, 1.0)

    def _to_grid(self, boxes_xyxy_px: np.ndarray) -> np.ndarray:
        """``[N, 4]`` full-image px → ``[N, 4]`` map px (float64)."""
        sx, sy = self.scale
        boxes = np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)
        return boxes * np.array([sx, sy, sx, sy])


def compute_saliency(
    image_rgb: np.ndarray,
    *,
    max_side: int = 128,
    faces: str | np.ndarray = "auto",
    frame: bool = True,
    image_size: tuple[int, int] | None = None,
) -> SaliencyMap:
    """Saliency of an RGB image from image statistics and, when installed, a face detector.

    ``image_rgb``: uint8 ``[H, W, 3]``. The image is reduced (box filter) so that its long side is
    at most ``max_side`` px, and every cue is computed on that copy or coarser; returns a
    :class:`SaliencyMap` whose ``values`` and ``edges`` are float32 ``[h, w]`` in [0, 1]
    (``max(h, w) <= max_side``), whose ``image_size`` is ``(W, H)``, whose ``content`` is the
    photo without its frame artefacts (:func:`content_box`, when ``frame``; saliency outside it is
    0) and whose ``faces`` are head boxes (face plus headroom), ``[F, 4]`` xyxy px of the full image.

    ``faces``: ``"auto"`` — the pretrained detector of :mod:`promptcrop.faces` when it is
    installed, else the face-like skin blobs; ``"detector"`` — the detector only (none when it is
    missing); ``"skin"`` — the skin blobs only; or face boxes ``[F, 4]`` xyxy px found elsewhere.
    Detected faces also add a cue of their own (the face and the body below it), so people come
    first in the map.

    ``image_size``: ``(W, H)`` of the full image when ``image_rgb`` is a reduced copy of it (see
    :func:`promptcrop.images.load_preview`): the map then describes that image, and every box it
    holds (``faces``, ``people``, ``content``; face boxes passed in) is in its pixels.
    """
    image_rgb = _check_image(image_rgb)
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    if image_size is not None:
        full_w, full_h = (int(v) for v in image_size)
        if full_w < 1 or full_h < 1:
            raise ValueError(f"image_size must be positive (W, H), got {image_size}")
        to_full = np.array([full_w / image_rgb.shape[1], full_h / image_rgb.shape[0]] * 2)
        if not isinstance(faces, str):
            faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4) / to_full
        sal = compute_saliency(image_rgb, max_side=max_side, faces=faces, frame=frame)
        return SaliencyMap(
            values=sal.values, edges=sal.edges, image_size=(full_w, full_h), faces=sal.faces * to_full,
            content=sal.content * to_full, people=sal.people * to_full,
        )
    height, width = image_rgb.shape[:2]
    full = np.array([0.0, 0.0, float(width), float(height)])
    pil = Image.fromarray(image_rgb)
    work = _reduce(pil, WORK_SIDE)  # one shared copy for the frame, focus and map sizes
    content = _content_box(np.asarray(work), width, height) if frame else full
    if not np.array_equal(content, full):
        return _framed_saliency(image_rgb, content, max_side=max_side, faces=faces)
    small = _reduce(work if max_side <= WORK_SIDE else pil, max_side)
    to_small = np.array([small.width / width, small.height / height] * 2)
    luma = small.convert("L")
    skin = _skin(small)
    likeness, skin_faces = _face_blobs(skin)
    detected = _detected_faces(pil, content, faces)
    cues = {
        "contrast": _colour_contrast(small),
        "spectral": _spectral_residual(luma),
        "saturation": _uncommon(_saturation(small)),
        "skin": _uncommon(skin),
        "face": skin * likeness,
        "focus": _in_focus(work, small.size),
    }
    if detected is not None and len(detected):
        cues["detected"] = _people_prior(detected * to_small, small.size)
    mixed = sum(CUE_WEIGHTS[name] * _normalise(cue, CUE_FLOORS[name]) for name, cue in cues.items())
    mixed = mixed * _centre_prior(small.size)
    # Opening removes thin structures (lines, fine texture) that no crop should be built around;
    # squaring sharpens the map so weak, widespread responses fade against the subject.
    mixed = ndimage.grey_opening(mixed, size=(3, 3)) if min(mixed.shape) >= 9 else mixed
    blurred = ndimage.gaussian_filter(np.square(mixed), sigma=_blur_sigma(mixed.shape))
    values = _normalise(blurred, MAP_FLOOR)
    people = np.zeros((0, 4))
    if detected is None:
        face_boxes = skin_faces / to_small
    elif len(detected):
        face_boxes = _clip_to(head_boxes(detected), content)
        side = np.sqrt(B.box_area(detected))
        main = side >= MAIN_PERSON_SHARE * side.max()  # people in the background do not widen the region
        people = _clip_to(_with_clothing(person_boxes(detected[main]), detected[main], small, to_small), content)
    else:
        face_boxes = np.zeros((0, 4))
    return SaliencyMap(
        values=values, edges=_edge_energy(luma), image_size=(width, height), faces=face_boxes,
        content=content, people=people,
    )


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


def _with_clothing(people: np.ndarray, faces: np.ndarray, small: Image.Image, to_small: np.ndarray) -> np.ndarray:
    """Person boxes ``[P, 4]`` grown over the clothing below each face ``[P, 4]`` (both xyxy px of
    the image; ``to_small`` ``[4]`` maps them onto ``small``, the reduced copy): the connected
    area of the torso patch's colour (a coat reaching to the frame's edge, a leaning body), within
    :data:`CLOTHING_REACH` of the face. An area larger than :data:`CLOTHING_MAX_SHARE` of the
    frame is the background and changes nothing. Only the :data:`CLOTHING_MAX_PEOPLE` largest
    faces are followed (a group's person boxes already span it; each costs a labelling)."""
    if not len(faces):
        return people
    lab = _to_lab(small)  # [h, w, 3]
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
        colour = np.median(patch, axis=0)
        same = np.linalg.norm(lab - colour, axis=-1) < CLOTHING_TOLERANCE  # [h, w]
        labels, _ = ndimage.label(same)
        seeds = np.unique(labels[py1:py2, px1:px2])
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


def _clip_to(boxes: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Boxes ``[N, 4]`` clipped to the ``[4]`` bounds box (xyxy px)."""
    low, high = np.tile(bounds[:2], 2), np.tile(bounds[2:], 2)
    return np.clip(boxes, low, high).reshape(-1, 4)


def _framed_saliency(
    image_rgb: np.ndarray, content: np.ndarray, *, max_side: int, faces: str | np.ndarray
) -> SaliencyMap:
    """Saliency of a photo inside frame artefacts: every cue is computed on the ``content`` box
    ``[4]`` alone (a black banner must not make the whole photo look distinct), then the map is
    placed in a zero map of the whole image at the same scale."""
    height, width = image_rgb.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in content)
    offset = np.array([x1, y1, x1, y1], dtype=np.float64)
    if not isinstance(faces, str):
        faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4) - offset
    side = max(1, math.floor(max_side * max(x2 - x1, y2 - y1) / max(width, height)))
    inner = compute_saliency(image_rgb[y1:y2, x1:x2], max_side=side, faces=faces, frame=False)
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
        content=content, people=inner.people + offset,
    )


def head_boxes(faces_xyxy_px: np.ndarray) -> np.ndarray:
    """Face boxes ``[F, 4]`` → head boxes ``[F, 4]`` (xyxy px): grown by :data:`HEAD_MARGINS`
    (shares of the face's width and height), the hair and some air above the face included."""
    faces = np.asarray(faces_xyxy_px, dtype=np.float64).reshape(-1, 4)
    w, h = faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1]
    left, top, right, bottom = HEAD_MARGINS
    return faces + np.stack([-left * w, -top * h, right * w, bottom * h], axis=-1)


def content_box(image_rgb: np.ndarray) -> np.ndarray:
    """The photo without frame artefacts: ``float [4]`` xyxy px of the image.

    Borders, letterbox / pillarbox bars and caption banners are bands along an image side that
    are one flat, neutral, dark or light colour (a line is flat when :data:`BAND_FLAT_SHARE` of
    it is near the band's colour; text rows may interrupt, as long as :data:`BAND_TEXT_ALLOWANCE`
    of the lines are flat) and end at a straight step into the photo. Each side is scanned on a
    copy reduced to at most :data:`WORK_SIDE` px; a band thicker than :data:`BAND_MAX_SHARE` of
    the image is not a frame. An image without such bands gives the whole image.
    """
    arr = _check_image(image_rgb)
    height, width = arr.shape[:2]
    return _content_box(np.asarray(_reduce(Image.fromarray(arr), WORK_SIDE)), width, height)


def _content_box(small_rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """:func:`content_box` from a reduced copy ``[h, w, 3]`` of a W × H image."""
    small = small_rgb.astype(np.float32)
    sh, sw = small.shape[:2]
    if min(sh, sw) < 8:
        return np.array([0.0, 0.0, float(width), float(height)])
    # Lines from each side inwards: top rows, bottom rows, left columns, right columns.
    top = _band_depth(small)
    bottom = _band_depth(small[::-1])
    left = _band_depth(small.transpose(1, 0, 2))
    right = _band_depth(small.transpose(1, 0, 2)[::-1])
    fx, fy = width / sw, height / sh
    box = np.array([left * fx, top * fy, width - right * fx, height - bottom * fy])
    if box[2] - box[0] < 0.3 * width or box[3] - box[1] < 0.3 * height:
        return np.array([0.0, 0.0, float(width), float(height)])
    return box


def _band_depth(lines: np.ndarray) -> int:
    """How many lines (first axis of ``[n, m, 3]``, from index 0) form a flat frame band, 0 if none."""
    n = lines.shape[0]
    limit = int(BAND_MAX_SHARE * n)
    colour = np.median(lines[0], axis=0)  # [3]
    if float(colour.max() - colour.min()) > BAND_MAX_CHROMA or BAND_DARK < colour.mean() < BAND_LIGHT:
        return 0
    near = np.linalg.norm(lines[: limit + 1] - colour, axis=-1) < BAND_COLOUR_TOLERANCE  # [l, m]
    flat = near.mean(axis=-1) >= BAND_FLAT_SHARE  # [l]; text lines on a banner are not flat
    if not flat[0]:
        return 0
    # The band runs to the last flat line before the photo, as long as most lines up to it are
    # flat (a caption's text rows interrupt it for a few lines, a photo does not stop doing so).
    candidates = np.flatnonzero(flat)
    share_flat = np.cumsum(flat) / np.arange(1, len(flat) + 1)
    good = candidates[share_flat[candidates] >= BAND_TEXT_ALLOWANCE]
    depth = int(good.max()) + 1 if len(good) else 0
    # The photo must start with a step: the first line inside differs from the band colour
    # across most of its width (a straight border, not a sky fading into a scene).
    inside = np.linalg.norm(lines[depth] - colour, axis=-1) >= BAND_COLOUR_TOLERANCE
    return depth if inside.mean() >= BAND_STEP_SHARE else 0


def corner_marks(image_rgb: np.ndarray, *, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Text and logo watermarks in the corners of a photo: ``[N, 4]`` float xyxy px (may be empty).

    ``image_rgb``: uint8 ``[H, W, 3]`` (``image_size``: ``(W, H)`` of the full image when it is a
    reduced copy; boxes are then in full pixels). The image is reduced to at most
    :data:`MARK_SIDE` px, and the :data:`MARK_CORNER_SHARE` of its width and height from each
    corner is searched for text lines: strokes are the thin bright (or dark) residue of a grey
    opening (closing) above :data:`MARK_STROKE_CONTRAST`, no more colourful than what surrounds
    them (overlaid text is white, black or a see-through mix of them); glyphs are their small,
    thin components; a line is a chain of at least :data:`MARK_MIN_GLYPHS` glyphs of similar height
    side by side on one baseline, with near-constant stroke width, at least
    :data:`MARK_MIN_LENGTH` times as long as it is high, and with quiet rows above and below.
    Lines close to each other on one baseline (words) are merged into one box.
    """
    arr = _check_image(image_rgb)
    height, width = arr.shape[:2]
    work = Image.fromarray(arr)
    if max(width, height) > MARK_SIDE:  # text is thin: an exact reduction keeps more of it
        scale = MARK_SIDE / max(width, height)
        work = work.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
    w, h = work.size
    cw, ch = max(1, round(w * MARK_CORNER_SHARE)), max(1, round(h * MARK_CORNER_SHARE))
    found = []
    for x0 in sorted({0, w - cw}):
        for y0 in sorted({0, h - ch}):
            for line in _text_lines(work.crop((x0, y0, x0 + cw, y0 + ch))):
                found.append(line + np.array([x0, y0, x0, y0]))
    full_w, full_h = image_size if image_size is not None else (width, height)
    lines = _merge_lines(np.array(found, dtype=np.float64).reshape(-1, 4))
    return lines * np.array([full_w / w, full_h / h] * 2)


def _text_lines(corner: Image.Image) -> list[np.ndarray]:
    """Text lines in one corner crop: a list of ``[4]`` xyxy px of the crop."""
    rgb = np.asarray(corner)
    luma = np.asarray(corner.convert("L"))  # uint8 throughout: the rank filters are the cost
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    chroma = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    size = (MARK_STROKE_WINDOW, MARK_STROKE_WINDOW)
    # A see-through white or black overlay lowers the colourfulness of what it covers.
    plain = chroma <= np.maximum(0.8 * ndimage.maximum_filter(chroma, size), 24.0)
    signed = luma.astype(np.int16)
    lines = []
    for residue in (signed - ndimage.grey_opening(luma, size), ndimage.grey_closing(luma, size) - signed):
        lines.extend(_lines_of(plain & (residue > MARK_STROKE_CONTRAST)))
    return lines


def _lines_of(strokes: np.ndarray) -> list[np.ndarray]:
    """Text lines among the stroke components of a corner ``[h, w]`` bool → ``[4]`` xyxy px each."""
    labels, count = ndimage.label(strokes)
    if count < MARK_MIN_GLYPHS:
        return []
    y0, x0, y1, x1 = ndimage.object_bounds(labels)
    hs, ws = y1 - y0, x1 - x0
    area = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    padded = np.pad(strokes, 1)
    inner = padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    rim = np.bincount(labels[strokes & ~inner], minlength=count + 1)[1:]
    thickness = area / np.maximum(rim, 1)  # about half the stroke width
    fill = area / (hs * ws)
    low, high = MARK_GLYPH_HEIGHT
    glyph = ((hs >= low) & (hs <= max(2 * low, high * strokes.shape[0])) & (ws <= 4 * hs)
             & (fill >= 0.12) & (fill <= 0.8) & (thickness <= 3.0) & (area >= 8))
    idx = np.flatnonzero(glyph)
    if idx.size < MARK_MIN_GLYPHS:
        return []
    gy0, gy1, gx0, gx1, gh = y0[idx], y1[idx], x0[idx], x1[idx], hs[idx]
    overlap = np.minimum(gy1[:, None], gy1[None]) - np.maximum(gy0[:, None], gy0[None])
    shorter, taller = np.minimum(gh[:, None], gh[None]), np.maximum(gh[:, None], gh[None])
    gap = np.maximum(gx0[None] - gx1[:, None], gx0[:, None] - gx1[None])
    linked = (overlap >= 0.6 * shorter) & (taller <= 2 * shorter) & (gap <= 0.8 * taller) & (gap >= -1)
    first, second = np.nonzero(np.triu(linked, 1))
    roots = ndimage.join_pairs(idx.size, first, second)
    glyph_map = glyph[np.maximum(labels - 1, 0)] & strokes
    lines = []
    for root in np.unique(roots):
        members = roots == root
        if members.sum() < MARK_MIN_GLYPHS:
            continue
        box = np.array([gx0[members].min(), gy0[members].min(), gx1[members].max(), gy1[members].max()])
        line_h = box[3] - box[1]
        stroke = thickness[idx][members]
        bottoms, typical = gy1[members], np.median(gh[members])
        if (stroke.std() > MARK_STROKE_SPREAD * stroke.mean()
                or np.median(np.abs(bottoms - np.median(bottoms))) > MARK_BASELINE_SPREAD * typical
                or box[2] - box[0] < MARK_MIN_LENGTH * line_h):
            continue
        density = glyph_map[box[1]:box[3], box[0]:box[2]].mean()
        around = [band.mean() for band in (glyph_map[max(0, box[1] - line_h):box[1], box[0]:box[2]],
                                           glyph_map[box[3]:box[3] + line_h, box[0]:box[2]]) if band.size]
        if around and max(around) > MARK_QUIET * density:
            continue
        lines.append(box.astype(np.float64))
    return lines


def _merge_lines(lines: np.ndarray) -> np.ndarray:
    """Lines ``[L, 4]`` that overlap or sit side by side on one baseline (words of one text, or the
    same text found bright and dark) → their union boxes ``[M, 4]``."""
    if len(lines) < 2:
        return lines
    hs = lines[:, 3] - lines[:, 1]
    overlap = np.minimum(lines[:, None, 3], lines[None, :, 3]) - np.maximum(lines[:, None, 1], lines[None, :, 1])
    gap = np.maximum(lines[None, :, 0] - lines[:, None, 2], lines[:, None, 0] - lines[None, :, 2])
    near = (overlap >= 0.5 * np.minimum(hs[:, None], hs[None])) & (gap <= 1.5 * np.maximum(hs[:, None], hs[None]))
    first, second = np.nonzero(np.triu(near, 1))
    roots = ndimage.join_pairs(len(lines), first, second)
    return np.array([B.union_box(lines[roots == root]) for root in np.unique(roots)])


def salient_region(
    sal: SaliencyMap,
    *,
    mass: float = 0.7,
    threshold: float | None = None,
    min_peak: float = 0.5,
) -> np.ndarray:
    """The box the offline mode must keep: ``float [4]`` xyxy px of the full image.

    The map is split into connected blobs above ``threshold`` (default: Otsu's threshold, and never
    below a quarter of the peak). Blobs whose own peak reaches ``min_peak`` × the map's peak are
    taken in order of their saliency mass *above the threshold* until they hold ``mass`` of it (so
    a strong subject is not diluted by many faint texture blobs, while several strong objects are
    all kept). The result is the bounding box of those blobs grown by one map pixel (a margin
    against the blur of the map), united with the map's ``faces`` and ``people`` (a person is never
    left out). A map with no saliency gives the whole image (its ``content`` box when frame
    artefacts were found).
    """
    if not 0.0 < mass <= 1.0:
        raise ValueError(f"mass must be in (0, 1], got {mass}")
    if not 0.0 <= min_peak <= 1.0:
        raise ValueError(f"min_peak must be in [0, 1], got {min_peak}")
    width, height = sal.image_size
    values = sal.values
    if np.ptp(values) <= 1e-6:
        return sal.content.copy()
    level = _threshold(values) if threshold is None else float(threshold)
    labels, count = ndimage.label(values > level)
    if count == 0:
        return sal.content.copy()
    ids = np.arange(1, count + 1)
    excess = ndimage.sum_labels(values - level, labels, index=ids)  # [count]
    strong = ndimage.maximum(values, labels, index=ids) >= min_peak * float(values.max())
    excess = np.where(strong, excess, 0.0)
    order = np.argsort(-excess, kind="stable")
    cumulative = np.cumsum(excess[order]) / excess.sum()
    chosen = ids[order[: int(np.searchsorted(cumulative, mass - 1e-9)) + 1]]
    ys, xs = np.nonzero(np.isin(labels, chosen))
    h, w = values.shape
    grid_box = np.array([xs.min() - 1, ys.min() - 1, xs.max() + 2, ys.max() + 2], dtype=np.float64)
    grid_box = B.clamp_xyxy(grid_box, w, h)
    sx, sy = sal.scale
    box = grid_box / np.array([sx, sy, sx, sy])
    extra = np.concatenate([sal.faces, sal.people])
    if len(extra) == 0:
        return box
    return B.clamp_xyxy(B.union_box(np.concatenate([box[None], extra])), width, height)


def core_region(sal: SaliencyMap, *, level: float = 0.6) -> np.ndarray:
    """The heart of the subject: ``float [4]`` xyxy px, the box of the connected part of the map
    above ``level`` × its peak that holds the peak (grown by one map pixel), united with the
    map's ``faces``. Tighter framings are built around it. A flat map gives its ``content`` box.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = sal.values
    if np.ptp(values) <= 1e-6:
        return sal.content.copy()
    labels, _ = ndimage.label(values >= level * float(values.max()))
    peak = labels.flat[int(np.argmax(values))]
    ys, xs = np.nonzero(labels == peak)
    h, w = values.shape
    grid_box = B.clamp_xyxy(np.array([xs.min() - 1, ys.min() - 1, xs.max() + 2, ys.max() + 2], float), w, h)
    sx, sy = sal.scale
    box = grid_box / np.array([sx, sy, sx, sy])
    if len(sal.faces):
        box = B.union_box(np.concatenate([box[None], sal.faces]))
    return B.clamp_xyxy(box, *sal.image_size)


# ---------------------------------------------------------------------------- input and resizing


def _check_image(image_rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(image_rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"expected an RGB image array [H, W, 3], got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


def _reduce(image: Image.Image, max_side: int) -> Image.Image:
    """Box-filter reduction by an integer factor so that the long side is ≤ ``max_side``."""
    factor = math.ceil(max(image.size) / max_side)
    return image.reduce(factor) if factor > 1 else image


def _resize_map(values: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float map to ``(w, h)``."""
    if values.shape[::-1] == tuple(size_wh):
        return values
    return np.asarray(Image.fromarray(values.astype(np.float32)).resize(size_wh, Image.Resampling.BILINEAR))


def _blur_sigma(shape: tuple[int, ...]) -> float:
    """Blur radius of the final map: about 1 % of the long side."""
    return max(max(shape) / 100.0, 0.5)


def _normalise(values: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """Scale to [0, 1] by ``max(maximum, floor)``; float32."""
    values = np.asarray(values, dtype=np.float32)
    return np.clip(values / max(float(values.max()), floor), 0.0, 1.0)


# ---------------------------------------------------------------------------- cues


def _colour_contrast(small: Image.Image) -> np.ndarray:
    """Lab distance from the mean colour (half weight) plus Lab distance from the nearest side's
    median colour, ``[h, w]`` in Lab units.

    Computed at :data:`COARSE_SIDE` on a blurred copy (so fine texture averages out), then
    resized to the map grid.
    """
    coarse = _reduce(small, COARSE_SIDE)
    coarse = coarse.filter(ImageFilter.BoxBlur(1))
    lab = _to_lab(coarse)
    global_contrast = np.linalg.norm(lab - lab.reshape(-1, 3).mean(axis=0), axis=-1)
    side_colours = _side_medians(lab)  # [4, 3]
    border_contrast = np.linalg.norm(lab[:, :, None, :] - side_colours, axis=-1).min(axis=-1)
    return _resize_map((0.5 * global_contrast + border_contrast).astype(np.float32), small.size)


def _to_lab(image: Image.Image) -> np.ndarray:
    """CIE Lab of an RGB image, float32 ``[h, w, 3]`` (L in [0, 100], a and b signed)."""
    raw = np.asarray(ImageCms.applyTransform(image, _SRGB_TO_LAB))  # uint8 [h, w, 3]
    # Pillow's LAB mode stores L scaled to 0..255 and a, b as signed bytes (two's complement).
    lightness = raw[..., :1].astype(np.float32) * (100.0 / 255.0)
    ab = np.ascontiguousarray(raw[..., 1:]).view(np.int8).astype(np.float32)
    return np.concatenate([lightness, ab], axis=-1)


def _side_medians(lab: np.ndarray) -> np.ndarray:
    """Median colour of a thin band along each side of a ``[h, w, 3]`` image → ``[4, 3]``.

    A median, so an object touching one side (covering less than half of it) does not change that
    side's background colour.
    """
    h, w = lab.shape[:2]
    t = max(1, round(min(h, w) / 16))
    bands = (lab[:t], lab[-t:], lab[:, :t], lab[:, -t:])
    return np.stack([np.median(band.reshape(-1, 3), axis=0) for band in bands])


def _spectral_residual(luma: Image.Image) -> np.ndarray:
    """Hou & Zhang spectral residual of the luminance at 64 px, resized to the map grid."""
    coarse = np.asarray(_reduce(luma, COARSE_SIDE), dtype=np.float32) / 255.0
    if min(coarse.shape) < 8:
        return np.zeros(luma.size[::-1], dtype=np.float32)
    spectrum = fft.fft2(coarse)
    log_amplitude = np.log(np.abs(spectrum) + 1e-8)
    residual = log_amplitude - ndimage.uniform_filter(log_amplitude, size=3, mode="nearest")
    energy = np.abs(fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    energy = ndimage.gaussian_filter(energy, sigma=max(coarse.shape) / 32.0)
    # The residual of a flat image is pure rounding noise: fade it out with the image's contrast.
    gate = min(float(coarse.std()) / SPECTRAL_MIN_STD, 1.0)
    return _resize_map(_normalise(energy) * gate, luma.size)


def _uncommon(cue: np.ndarray) -> np.ndarray:
    """What a cue says beyond its typical level: ``max(cue - median, 0)`` (a purple scene does
    not make every purple pixel salient)."""
    return np.maximum(cue - np.median(cue), 0.0)


def _saturation(small: Image.Image) -> np.ndarray:
    """HSV saturation, damped for dark pixels (where it is mostly noise), ``[h, w]`` in [0, 1]."""
    rgb = np.asarray(small, dtype=np.float32) / 255.0
    value, low = rgb.max(axis=-1), rgb.min(axis=-1)
    saturation = (value - low) / np.maximum(value, 1e-6)
    return saturation * np.clip(value / 0.2, 0.0, 1.0)


def _skin(small: Image.Image) -> np.ndarray:
    """Soft skin-tone membership in YCbCr (Cb 77–127, Cr 133–173), ``[h, w]`` in [0, 1]."""
    ycc = np.asarray(small.convert("YCbCr"), dtype=np.float32)
    cb, cr = ycc[..., 1], ycc[..., 2]
    # 1 at the centre of each range, 0 at its ends and beyond.
    cb_fit = np.clip(1.0 - np.abs(cb - 102.0) / 25.0, 0.0, 1.0)
    cr_fit = np.clip(1.0 - np.abs(cr - 153.0) / 20.0, 0.0, 1.0)
    return np.sqrt(cb_fit * cr_fit) * (ycc[..., 0] > 40)


def _face_blobs(skin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Face-likeness of the skin blobs: ``(likeness [h, w] in [0, 1], faces [F, 4])``.

    ``likeness`` is the score of the skin blob under each pixel (0 off skin blobs); ``faces`` are
    the xyxy boxes, in map pixels, of the blobs scoring at least :data:`FACE_KEEP_SCORE` (grown by
    one map pixel, like the salient region).

    Skin blobs are the connected areas of membership ≥ :data:`FACE_SKIN_LEVEL` (opened once, so
    thin skin-toned lines do not join blobs). A blob's score is the product of its compactness
    (area / bounding-box area: 0.35 → 0, an ellipse's π/4 and above → 1), a log-Gaussian of its
    height / width around :data:`FACE_ASPECT`, and a size gate (:data:`FACE_AREA`); all blobs are
    scaled down as skin tones become common in the image (:data:`FACE_COMMON_SKIN`).
    """
    none = (np.zeros_like(skin), np.zeros((0, 4)))
    is_skin = skin >= FACE_SKIN_LEVEL
    common_low, common_high = FACE_COMMON_SKIN
    rarity = float(np.clip((common_high - is_skin.mean()) / (common_high - common_low), 0.0, 1.0))
    if rarity <= 0 or min(skin.shape) < 3:
        return none
    labels, count = ndimage.label(ndimage.binary_opening(is_skin))
    if count == 0:
        return none
    slices = ndimage.find_objects(labels)
    bounds = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices], dtype=np.float64)
    widths, heights = bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]  # [count]
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:].astype(np.float64)
    compact = np.clip((areas / (heights * widths) - 0.35) / (math.pi / 4 - 0.35), 0.0, 1.0)
    upright = np.exp(-(np.log(heights / widths / FACE_ASPECT) ** 2) / (2 * FACE_ASPECT_SPREAD**2))
    share = areas / skin.size
    sized = (share >= FACE_AREA[0]) & (share <= FACE_AREA[1])
    score = compact * upright * sized * rarity  # [count]
    h, w = skin.shape
    faces = B.clamp_xyxy(bounds[score >= FACE_KEEP_SCORE] + np.array([-1.0, -1.0, 1.0, 1.0]), w, h)
    likeness = np.concatenate([[0.0], score])[labels]  # label 0 = background
    return likeness.astype(np.float32), faces.reshape(-1, 4)


def _edge_energy(luma: Image.Image) -> np.ndarray:
    """Sobel gradient magnitude of the luminance, ``[h, w]`` in [0, 1].

    The scale is absolute, not per image (a luminance step of :data:`EDGE_FULL_SCALE` saturates),
    so a flat image keeps low edge energy and a busy one high.
    """
    values = np.asarray(luma, dtype=np.float32) / 255.0
    if min(values.shape) < 3:
        return np.zeros_like(values)
    # A Sobel kernel answers 4x a unit step; divide so the result is in luminance units.
    magnitude = np.hypot(ndimage.sobel(values, axis=0), ndimage.sobel(values, axis=1)) / 4.0
    return np.clip(magnitude / EDGE_FULL_SCALE, 0.0, 1.0).astype(np.float32)


def _threshold(values: np.ndarray) -> float:
    """Otsu's threshold of the map, floored at a quarter of its peak."""
    return max(threshold_otsu(values), 0.25 * float(values.max()))


def _detected_faces(pil: Image.Image, content: np.ndarray, faces: str | np.ndarray) -> np.ndarray | None:
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
    from promptcrop.faces import default_detector

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


def _people_prior(faces_small: np.ndarray, size: tuple[int, int]) -> np.ndarray:
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


def _in_focus(work: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Where the photo is sharp against a blurred background, ``[h, w]`` (map grid) in [0, 1].

    Local detail is the magnitude of the Laplacian of the luminance of ``work`` (a copy of at most
    :data:`WORK_SIDE` px) averaged over blocks of about 1/48 of its long side, relative to the
    98th percentile of the blocks; the cue is what stands above the median detail. On an image sharp everywhere (no depth of field) the cue is weak and
    scattered; with a blurred background it singles out the subject. The cue fades in as the share
    of the frame without detail (below :data:`FOCUS_BLUR_LEVEL`) grows across
    :data:`FOCUS_BLURRED_SHARE`, and is 0 for photos sharp all over.
    """
    values = np.asarray(work.convert("L"), dtype=np.float32) / 255.0
    if min(values.shape) < 8:
        return np.zeros(size[::-1], dtype=np.float32)
    detail = Image.fromarray(np.abs(ndimage.laplace(values)), mode="F")
    detail = np.asarray(_reduce(detail, 48), dtype=np.float32)  # block means
    peak = float(np.percentile(detail, 98))
    if peak <= 1e-4:
        return np.zeros(size[::-1], dtype=np.float32)
    relative = np.clip(detail / peak, 0.0, 1.0)
    # Depth of field shows as much of the frame without detail; a photo sharp all over gets no cue.
    low, high = FOCUS_BLURRED_SHARE
    gate = float(np.clip(((relative < FOCUS_BLUR_LEVEL).mean() - low) / (high - low), 0.0, 1.0))
    if gate <= 0:
        return np.zeros(size[::-1], dtype=np.float32)
    return _resize_map(np.maximum(relative - float(np.median(relative)), 0.0) * gate, size)


def _centre_prior(size: tuple[int, int]) -> np.ndarray:
    """Soft preference for the middle of the frame, ``[h, w]``: 1 at the centre, falling as a
    Gaussian to ``1 - CENTRE_PRIOR_DEPTH`` in the corners."""
    w, h = size
    u = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    v = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
    d2 = (u[None, :] ** 2 + v[:, None] ** 2) / 0.5  # 1 in the corners
    return (1.0 - CENTRE_PRIOR_DEPTH) + CENTRE_PRIOR_DEPTH * np.exp(-3.0 * d2) / 1.0


# ---------------------------------------------------------------------------- integral images


def _integral(values: np.ndarray) -> np.ndarray:
    """Summed-area table ``[h + 1, w + 1]`` (float64) with a zero first row and column."""
    h, w = values.shape
    sat = np.zeros((h + 1, w + 1), dtype=np.float64)
    sat[1:, 1:] = values.astype(np.float64).cumsum(axis=0).cumsum(axis=1)
    return sat


def _integral_at(sat: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear read of a summed-area table at fractional grid points (clipped to the map).

    Exact for the piecewise-constant map: the integral up to a fractional point is bilinear
    inside a cell.
    """
    rows, cols = sat.shape  # both >= 2: the map is never empty
    x = np.minimum(np.maximum(x, 0.0), cols - 1)  # np.clip, without its call overhead
    y = np.minimum(np.maximum(y, 0.0), rows - 1)
    x0 = np.minimum(x.astype(np.intp), cols - 2)  # x >= 0, so truncation is floor
    y0 = np.minimum(y.astype(np.intp), rows - 2)
    fx, fy = x - x0, y - y0
    flat = sat.ravel()
    corner = y0 * cols + x0
    top = np.take(flat, corner) * (1 - fx) + np.take(flat, corner + 1) * fx
    bottom = np.take(flat, corner + cols) * (1 - fx) + np.take(flat, corner + cols + 1) * fx
    return top * (1 - fy) + bottom * fy


def _box_sums(sat: np.ndarray, boxes_grid: np.ndarray) -> np.ndarray:
    """Sum of the map inside each ``[N, 4]`` xyxy grid box (outside the map counts as zero)."""
    x1, y1, x2, y2 = boxes_grid[:, 0], boxes_grid[:, 1], boxes_grid[:, 2], boxes_grid[:, 3]
    total = (
        _integral_at(sat, x2, y2)
        - _integral_at(sat, x1, y2)
        - _integral_at(sat, x2, y1)
        + _integral_at(sat, x1, y1)
    )
    return np.maximum(total, 0.0)
