"""The image-statistics cues of the saliency map: colour contrast, spectral residual, saturation,
skin and face-like skin blobs, edge energy, focus (in-focus versus blurred areas) and the centre prior.

Each returns a float map on the reduced grid; :mod:`promptcrop.saliency.map` mixes them.
"""

from __future__ import annotations

import math

import numpy as np
from numpy import fft
from PIL import Image, ImageFilter

import promptcrop.saliency.ndimage_lite as ndimage  # scipy.ndimage's functions without its import time
from promptcrop import boxes as B
from promptcrop.saliency.grid import channel_extremes, median, normalise, quantile, reduce, resize_map, to_lab

#: Working resolution (long side, px) of the colour-contrast and spectral-residual cues.
COARSE_SIDE = 64


#: Weights of the cues in the mixed map (colour contrast, spectral residual, saturation, skin, face).
#: The first four sum to 1; the face cue comes on top (the map is normalised by its peak anyway).
#: ``motion``: what moved in a video frame (:mod:`promptcrop.reframe.motion`), when given.
CUE_WEIGHTS = {
    "contrast": 0.45, "spectral": 0.15, "saturation": 0.15, "skin": 0.25, "face": 0.25, "focus": 0.35,
    "detected": 0.6, "subjects": 0.6, "motion": 1.0,
}


#: The cues read off the image's own pixels (the others come from the detectors).
IMAGE_CUES = frozenset({"contrast", "spectral", "saturation", "skin", "face", "focus"})


#: Cue strength that counts as full: weaker cues are scaled by this, not by their own maximum,
#: so a nearly flat image is not stretched into a saliency map of noise. Units: contrast in Lab,
#: saturation and skin membership in [0, 1]; the spectral residual comes in [0, 1], already
#: faded by the image contrast; motion in grey levels of difference.
CUE_FLOORS = {
    "contrast": 12.0, "spectral": 1.0, "saturation": 0.2, "skin": 0.2, "face": 0.2, "focus": 0.5,
    "detected": 1.0, "subjects": 1.0, "motion": 12.0,
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


#: Luminance standard deviation (in [0, 1]) below which the spectral residual is faded out.
SPECTRAL_MIN_STD = 0.02


#: Luminance step (in [0, 1]) whose edge energy counts as full (1.0).
EDGE_FULL_SCALE = 0.25


#: Centre prior: a photographer's subject is rarely at the very edge. 1 at the centre,
#: ``1 - CENTRE_PRIOR_DEPTH`` at the corners.
CENTRE_PRIOR_DEPTH = 0.35


#: In-focus cue: the detail level (share of the image's 98th percentile) below which an area
#: counts as blurred (sensor grain and JPEG noise keep some detail in a blurred background:
#: docs/REAL_PHOTOS.md, "The seventeenth pass"), and the blurred share of the frame over which
#: the cue fades in.
FOCUS_BLUR_LEVEL = 0.1


FOCUS_BLURRED_SHARE = (0.3, 0.6)


def colour_contrast(small: Image.Image) -> np.ndarray:
    """Lab distance from the mean colour (half weight) plus Lab distance from the nearest side's
    median colour, ``[h, w]`` in Lab units.

    Computed at :data:`COARSE_SIDE` on a blurred copy (so fine texture averages out), then
    resized to the map grid.
    """
    coarse = reduce(small, COARSE_SIDE)
    coarse = coarse.filter(ImageFilter.BoxBlur(1))
    lab = to_lab(coarse)
    global_contrast = np.linalg.norm(lab - lab.reshape(-1, 3).mean(axis=0), axis=-1)
    side_colours = _side_medians(lab)  # [4, 3]
    border_contrast = np.linalg.norm(lab[:, :, None, :] - side_colours, axis=-1).min(axis=-1)
    return resize_map((0.5 * global_contrast + border_contrast).astype(np.float32), small.size)


def _side_medians(lab: np.ndarray) -> np.ndarray:
    """Median colour of a thin band along each side of a ``[h, w, 3]`` image → ``[4, 3]``.

    A median, so an object touching one side (covering less than half of it) does not change that
    side's background colour.
    """
    h, w = lab.shape[:2]
    t = max(1, round(min(h, w) / 16))
    bands = (lab[:t], lab[-t:], lab[:, :t], lab[:, -t:])
    return np.stack([median(band.reshape(-1, 3), axis=0) for band in bands])


def spectral_residual(luma: Image.Image) -> np.ndarray:
    """Hou & Zhang spectral residual of the luminance at 64 px, resized to the map grid."""
    coarse = np.asarray(reduce(luma, COARSE_SIDE), dtype=np.float32) / 255.0
    if min(coarse.shape) < 8:
        return np.zeros(luma.size[::-1], dtype=np.float32)
    spectrum = fft.fft2(coarse)
    log_amplitude = np.log(np.abs(spectrum) + 1e-8)
    residual = log_amplitude - ndimage.uniform_filter(log_amplitude, size=3, mode="nearest")
    energy = np.abs(fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    energy = ndimage.gaussian_filter(energy, sigma=max(coarse.shape) / 32.0)
    # The residual of a flat image is pure rounding noise: fade it out with the image's contrast.
    gate = min(float(coarse.std()) / SPECTRAL_MIN_STD, 1.0)
    return resize_map(normalise(energy) * gate, luma.size)


def uncommon(cue: np.ndarray) -> np.ndarray:
    """What a cue says beyond its typical level: ``max(cue - median, 0)`` (a purple scene does
    not make every purple pixel salient)."""
    return np.maximum(cue - median(cue), 0.0)


def saturation(small: Image.Image) -> np.ndarray:
    """HSV saturation, damped for dark pixels (where it is mostly noise), ``[h, w]`` in [0, 1]."""
    rgb = np.asarray(small, dtype=np.float32) / 255.0
    value, low = channel_extremes(rgb)
    saturation = (value - low) / np.maximum(value, 1e-6)
    return saturation * np.clip(value / 0.2, 0.0, 1.0)


def skin_tone(small: Image.Image) -> np.ndarray:
    """Soft skin-tone membership in YCbCr (Cb 77–127, Cr 133–173), ``[h, w]`` in [0, 1]."""
    ycc = np.asarray(small.convert("YCbCr"), dtype=np.float32)
    cb, cr = ycc[..., 1], ycc[..., 2]
    # 1 at the centre of each range, 0 at its ends and beyond.
    cb_fit = np.clip(1.0 - np.abs(cb - 102.0) / 25.0, 0.0, 1.0)
    cr_fit = np.clip(1.0 - np.abs(cr - 153.0) / 20.0, 0.0, 1.0)
    return np.sqrt(cb_fit * cr_fit) * (ycc[..., 0] > 40)


def face_blobs(skin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def edge_energy(luma: Image.Image) -> np.ndarray:
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


def detail_blocks(work: Image.Image) -> np.ndarray | None:
    """Local detail of ``work`` (a copy of at most :data:`WORK_SIDE` px), ``[bh, bw]`` in [0, 1]: the
    magnitude of the Laplacian of the luminance averaged over blocks of about 1/48 of its long side,
    relative to the 98th percentile of the blocks. None for an image too small or without detail."""
    values = np.asarray(work.convert("L"), dtype=np.float32) / 255.0
    if min(values.shape) < 8:
        return None
    detail = Image.fromarray(np.abs(ndimage.laplace(values)), mode="F")
    detail = np.asarray(reduce(detail, 48), dtype=np.float32)  # block means
    peak = quantile(detail, 0.98)
    if peak <= 1e-4:
        return None
    return np.clip(detail / peak, 0.0, 1.0)


def depth_of_field(relative: np.ndarray | None) -> float:
    """How clearly the photo has depth of field, in [0, 1]: the share of its blocks without detail
    (below :data:`FOCUS_BLUR_LEVEL`) across :data:`FOCUS_BLURRED_SHARE`; 0 for a photo sharp all over.
    ``relative``: :func:`detail_blocks`."""
    if relative is None:
        return 0.0
    low, high = FOCUS_BLURRED_SHARE
    return float(np.clip(((relative < FOCUS_BLUR_LEVEL).mean() - low) / (high - low), 0.0, 1.0))


def focus_cue(relative: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    """Where the photo is sharp against a blurred background, ``[h, w]`` (map grid) in [0, 1], from
    its :func:`detail_blocks`: what stands above the median detail. On an image sharp everywhere (no
    depth of field) the cue is weak and scattered; with a blurred background it singles out the
    subject. The cue fades in with :func:`depth_of_field`, and is 0 for photos sharp all over."""
    gate = depth_of_field(relative)
    if relative is None or gate <= 0:
        return np.zeros(size[::-1], dtype=np.float32)
    return resize_map(np.maximum(relative - median(relative), 0.0) * gate, size)


def centre_prior(size: tuple[int, int]) -> np.ndarray:
    """Soft preference for the middle of the frame, ``[h, w]``: 1 at the centre, falling as a
    Gaussian to ``1 - CENTRE_PRIOR_DEPTH`` in the corners."""
    w, h = size
    u = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    v = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
    d2 = (u[None, :] ** 2 + v[:, None] ** 2) / 0.5  # 1 in the corners
    return (1.0 - CENTRE_PRIOR_DEPTH) + CENTRE_PRIOR_DEPTH * np.exp(-3.0 * d2) / 1.0
