"""Training augmentation: mosaic (paper §3.3), horizontal flip and colour jitter (Appendix B).

Everything works on ``uint8 [H, W, 3]`` RGB arrays and xyxy pixel boxes; box transforms go through
:mod:`promptcrop.boxes` (convert to normalised cxcywh with :func:`promptcrop.data.gaic.to_targets`
after augmenting).

Mosaic geometry: every tile is resized to one common cell of ``cell_w × cell_h`` pixels, where the
cell is the *target* image scaled uniformly (aspect ratio kept) so that the whole mosaic's longer
side is at most ``max_side``; the other tiles are stretched to that cell (they are only
distractors). The target's boxes therefore map exactly by ``x' = col·cell_w + x·cell_w/W`` and
``y' = row·cell_h + y·cell_h/H`` — the same continuous-coordinate mapping Pillow's resize uses —
and the crops keep their aspect ratio up to the rounding of the cell to whole pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance

from promptcrop import boxes as B
from promptcrop.validation import require_probability

MOSAIC_GRIDS = (1, 2, 3)
"""Mosaic grids of the paper (1×1, 2×2, 3×3), drawn with equal probability."""

OtherImages = Callable[[int], Sequence[np.ndarray]]
"""``fetch(k)`` → k distractor images (``uint8 [H, W, 3]``) for the other mosaic tiles."""


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation settings.

    ``grids``: mosaic grid sizes drawn with equal probability (``(1,)`` turns mosaic off).
    ``max_side``: the longest side of a composed mosaic in pixels (None: tiles keep the target's
    size). ``flip_prob``: chance of a horizontal flip. ``brightness`` / ``contrast`` /
    ``saturation``: colour jitter strengths; each factor is drawn from ``[1 - s, 1 + s]``.
    """

    grids: tuple[int, ...] = MOSAIC_GRIDS
    max_side: int | None = 1024
    flip_prob: float = 0.5
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4

    def __post_init__(self) -> None:
        if not self.grids or any(int(g) != g or g < 1 for g in self.grids):
            raise ValueError(f"grids must be positive integers, got {self.grids}")
        if self.max_side is not None and self.max_side < max(self.grids):
            raise ValueError(f"max_side must be at least {max(self.grids)}, got {self.max_side}")
        for name in ("flip_prob", "brightness", "contrast", "saturation"):
            require_probability(name, getattr(self, name))


@dataclass
class Augmented:
    """An augmented training image.

    ``image``: ``uint8 [H', W', 3]``. ``boxes_xyxy_px``: ``[N, 4]`` float, the target's boxes in
    pixels of ``image``. ``tile_xyxy_px``: ``[4]`` float, where the target image lies in ``image``
    (the whole image for a 1×1 grid). ``grid``: mosaic grid size (1, 2 or 3). ``flipped``: whether a
    horizontal flip was applied (after composing).
    """

    image: np.ndarray
    boxes_xyxy_px: np.ndarray
    tile_xyxy_px: np.ndarray
    grid: int
    flipped: bool = False

    @property
    def image_size(self) -> tuple[int, int]:
        """``(width, height)`` of :attr:`image`."""
        return int(self.image.shape[1]), int(self.image.shape[0])


def _check_image(image: np.ndarray, what: str) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what} must be uint8 [H, W, 3], got {image.dtype} {image.shape}")


def _as_boxes(boxes_xyxy_px: np.ndarray) -> np.ndarray:
    return np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


def mosaic_cell_size(width: int, height: int, grid: int, max_side: int | None) -> tuple[int, int]:
    """``(cell_w, cell_h)``: the target's ``width × height`` scaled (never up) so that ``grid``
    cells span at most ``max_side`` pixels on the longer side; at least 1 pixel each."""
    if max_side is None or grid * max(width, height) <= max_side:
        return width, height
    scale = max_side / (grid * max(width, height))
    # floor (with slack for float error) so the mosaic never exceeds max_side
    return max(1, math.floor(width * scale + 1e-9)), max(1, math.floor(height * scale + 1e-9))


def mosaic(
    images: Sequence[np.ndarray],
    boxes_xyxy_px: np.ndarray,
    grid: int,
    target_index: int,
    max_side: int | None = None,
) -> Augmented:
    """Compose ``grid × grid`` images row by row; ``images[target_index]`` is the target whose
    ``[N, 4]`` xyxy pixel boxes are carried into the mosaic (see the module docstring for the
    geometry). ``len(images)`` must be ``grid²``. Returns :class:`Augmented` (``flipped`` False)."""
    if grid < 1 or len(images) != grid * grid:
        raise ValueError(f"a {grid}x{grid} mosaic needs {grid * grid} images, got {len(images)}")
    if not 0 <= target_index < len(images):
        raise ValueError(f"target_index {target_index} outside 0..{len(images) - 1}")
    for i, image in enumerate(images):
        _check_image(image, f"mosaic image {i}")
    target = images[target_index]
    height, width = target.shape[:2]
    cell_w, cell_h = mosaic_cell_size(width, height, grid, max_side)
    canvas = np.empty((grid * cell_h, grid * cell_w, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        row, col = divmod(i, grid)
        canvas[row * cell_h : (row + 1) * cell_h, col * cell_w : (col + 1) * cell_w] = _resize(
            image, cell_w, cell_h
        )
    row, col = divmod(target_index, grid)
    sx, sy, dx, dy = cell_w / width, cell_h / height, col * cell_w, row * cell_h
    whole_target = np.array([0.0, 0.0, width, height])
    return Augmented(
        image=canvas,
        boxes_xyxy_px=B.scale_shift_xyxy(_as_boxes(boxes_xyxy_px), sx, sy, dx, dy),
        tile_xyxy_px=B.scale_shift_xyxy(whole_target, sx, sy, dx, dy),
        grid=grid,
    )


def random_mosaic(
    image: np.ndarray,
    boxes_xyxy_px: np.ndarray,
    other_images: OtherImages,
    rng: np.random.Generator,
    grids: Sequence[int] = MOSAIC_GRIDS,
    max_side: int | None = None,
) -> Augmented:
    """A mosaic with a grid drawn uniformly from ``grids`` and the target (``image`` with its
    ``[N, 4]`` xyxy pixel boxes) in a uniformly drawn cell; the other ``grid² - 1`` cells come from
    ``other_images(k)``. A 1×1 grid asks for no other image."""
    grid = int(rng.choice(np.asarray(grids)))
    n_cells = grid * grid
    target_index = int(rng.integers(n_cells))
    others = list(other_images(n_cells - 1)) if n_cells > 1 else []
    if len(others) != n_cells - 1:
        raise ValueError(f"other_images({n_cells - 1}) returned {len(others)} images")
    tiles = others[:target_index] + [image] + others[target_index:]
    return mosaic(tiles, boxes_xyxy_px, grid, target_index, max_side)


def hflip(image: np.ndarray, boxes_xyxy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror left-right: ``(uint8 [H, W, 3], [N, 4] xyxy px)`` → the same, boxes flipped too."""
    _check_image(image, "image")
    flipped = np.ascontiguousarray(image[:, ::-1])
    return flipped, B.hflip_xyxy(_as_boxes(boxes_xyxy_px), float(image.shape[1]))


def color_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
) -> np.ndarray:
    """Random brightness, contrast and saturation (Pillow ``ImageEnhance``) in random order; each
    factor is uniform in ``[1 - s, 1 + s]``. ``uint8 [H, W, 3]`` in and out; boxes are unchanged.
    With every strength 0 the image itself is returned (after the same draw of the order)."""
    _check_image(image, "image")
    enhancers = [
        (ImageEnhance.Brightness, brightness),
        (ImageEnhance.Contrast, contrast),
        (ImageEnhance.Color, saturation),
    ]
    order = rng.permutation(len(enhancers))
    if not any(strength > 0 for _, strength in enhancers):
        return image
    out = Image.fromarray(image)
    for index in order:
        enhancer, strength = enhancers[index]
        if strength > 0:
            out = enhancer(out).enhance(float(rng.uniform(1.0 - strength, 1.0 + strength)))
    return np.asarray(out)


def augment(
    image: np.ndarray,
    boxes_xyxy_px: np.ndarray,
    other_images: OtherImages,
    rng: np.random.Generator,
    config: AugmentConfig | None = None,
) -> Augmented:
    """The training augmentation of one sample: random mosaic, then a random horizontal flip of the
    composed image, then colour jitter. ``image`` ``uint8 [H, W, 3]``, ``boxes_xyxy_px`` ``[N, 4]``
    (the target's annotated crops); ``other_images`` supplies the mosaic's distractor tiles."""
    config = config or AugmentConfig()
    out = random_mosaic(image, boxes_xyxy_px, other_images, rng, config.grids, config.max_side)
    if rng.random() < config.flip_prob:
        out.image, out.boxes_xyxy_px = hflip(out.image, out.boxes_xyxy_px)
        out.tile_xyxy_px = B.hflip_xyxy(out.tile_xyxy_px, float(out.image.shape[1]))
        out.flipped = True
    out.image = color_jitter(out.image, rng, config.brightness, config.contrast, config.saturation)
    return out
