"""Synthetic conditioned-cropping scenes, written in the real GAIC layout.

Each scene is a textured, low-saturation background with a few flat, saturated shapes (circle,
square, triangle, star in distinct colours; every colour+shape pair at most once per scene, so a
caption is never ambiguous). The caption names one or two of them ("the red circle", "a blue square
and a green star"). From the named objects the scene derives:

- the *ideal framing*: the smallest box with the image's aspect ratio that holds the named objects
  with a margin and covers at least ``min_crop_area`` of the image, centred on them and shifted
  inside the image. Objects are placed anywhere (one grid cell from the border), so the ideal
  framing is usually off-centre and neither the whole image nor the centre crop is a good answer;
- GAIC's grid of ~90 candidate crops (:func:`promptcrop.data.gaic.candidate_grid`) with a
  synthetic MOS in 1..5 that rises with how well a crop frames the named objects::

      MOS = 1 + 4 · coverage⁴ · (0.2 + 0.8 · IoU(crop, ideal framing)^p) + noise

  where ``coverage`` is the smallest share of a named object's box inside the crop (a cut object
  scores low quickly), ``p`` is ``mos_iou_power`` (1 by default; larger values keep MOS ≥ 4 — the
  crops training counts as good — for the crops closest to the ideal framing), and noise is
  Gaussian (``mos_noise``), clipped to 1..5 and rounded to 0.01;
- ``n_annotators`` "annotator" boxes: the ideal framing with each side jittered, grown again to hold
  the named objects, for IoU-Mean / IoU-Max evaluation.

:func:`write_gaic_dataset` writes scenes so the ordinary readers load them::

    <root>/images/<split>/<id>.jpg
    <root>/annotations/<split>/<id>.txt   "y1 x1 y2 x2 MOS" per candidate (row first, as GAIC)
    <root>/text/{train,valid,test}.json   {"<id>.jpg": "<caption>"}          (GAIC text labels)
    <root>/captions/<split>.json          [{"image", "query", "boxes"}]      (see docs/DATA.md)
    <root>/objects/<split>.json           [{"image", "objects": [{"phrase", "box"}]}]
    <root>/synthetic.json                 the SyntheticConfig used, as a plain dict

``objects/<split>.json`` lists every shape of every image (named or not) as a phrase ("red circle")
with its pixel xyxy box, for grounding fine-tuning; ``image`` paths in ``captions`` and ``objects``
are relative to the JSON file's folder (read them with :mod:`promptcrop.data.datasets`).
Generation is seeded per image: scene ``i`` of a split is the same whatever the other counts are.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from promptcrop import boxes as B
from promptcrop.data.gaic import SPLITS, TEXT_LABEL_FILES, candidate_grid
from promptcrop.validation import (
    require_int,
    require_non_negative,
    require_ordered_pair,
    require_positive,
    require_positive_int,
    require_probability,
)

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (35, 165, 65),
    "blue": (45, 85, 225),
    "yellow": (240, 205, 35),
    "purple": (145, 55, 185),
    "orange": (245, 135, 25),
}
"""Shape colours: saturated and far apart from each other and from the grey backgrounds."""

SHAPES = ("circle", "square", "triangle", "star")
TEXTURES = ("noise", "stripes", "checker", "gradient")

_ONE_OBJECT_TEMPLATES = ("the {0}", "a {0}", "{0}")
_TWO_OBJECT_TEMPLATES = ("a {0} and a {1}", "the {0} and the {1}", "{0} and {1}")
_PLACEMENT_TRIES = 60
_OBJECT_GAP_PX = 4


def _check_subset(name: str, value: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    unknown = set(value) - set(allowed)
    if not value or unknown or len(set(value)) != len(value):
        raise ValueError(f"{name} must be distinct names from {allowed}, got {value}")


@dataclass(frozen=True)
class SyntheticConfig:
    """How synthetic scenes look and are scored.

    ``width_range`` / ``height_range``: image size in pixels (inclusive). ``n_shapes_range``: shapes
    per scene. ``shape_size_range``: shape size as a share of the shorter image side.
    ``two_object_prob``: chance a caption names two shapes. ``grid_bins`` / ``corner_bins`` /
    ``min_crop_area`` / ``aspect_range``: the GAIC candidate grid (``min_crop_area`` also bounds the
    ideal framing). ``margin``: space kept around the named objects in the ideal framing, as a
    share of their union's larger side. ``mos_noise``: std of the MOS noise. ``n_annotators`` /
    ``annotator_jitter``: annotator boxes per query and their side jitter (share of the image side).
    ``distinct_shapes``: no two shapes of a scene have the same form, so a caption's head noun
    ("circle", a keyword ClipCrop grounds on its own) names one object only; needs at most
    ``len(shapes)`` shapes per scene. Off by default (the same scenes as before it existed).
    ``one_colour_prob`` (needs ``distinct_shapes``): chance that all shapes of a scene share one
    colour. Colour is the cue a grounding model learns first; scenes where it tells nothing force
    it to learn the shapes too, which the head-noun queries ("circle") need. 0 by default (the
    same scenes as before it existed).
    """

    seed: int = 0
    width_range: tuple[int, int] = (256, 384)
    height_range: tuple[int, int] = (256, 384)
    n_shapes_range: tuple[int, int] = (2, 5)
    shape_size_range: tuple[float, float] = (0.12, 0.28)
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    textures: tuple[str, ...] = TEXTURES
    two_object_prob: float = 0.3
    grid_bins: int = 12
    corner_bins: int = 4
    min_crop_area: float = 0.5
    aspect_range: tuple[float, float] = (0.5, 2.0)
    margin: float = 0.35
    mos_noise: float = 0.1
    mos_iou_power: float = 1.0
    n_annotators: int = 4
    annotator_jitter: float = 0.03
    jpeg_quality: int = 95
    distinct_shapes: bool = False
    one_colour_prob: float = 0.0

    def __post_init__(self) -> None:
        _check_subset("shapes", self.shapes, SHAPES)
        _check_subset("colours", self.colours, tuple(COLOURS))
        _check_subset("textures", self.textures, TEXTURES)
        require_ordered_pair("width_range", self.width_range, 64, 4096)
        require_ordered_pair("height_range", self.height_range, 64, 4096)
        require_ordered_pair("n_shapes_range", self.n_shapes_range, 1, len(self.shapes) * len(self.colours))
        require_ordered_pair("shape_size_range", self.shape_size_range, 0.02, 0.5)
        require_ordered_pair("aspect_range", self.aspect_range, 0.0, float("inf"))
        for name in ("two_object_prob", "min_crop_area", "one_colour_prob"):
            require_probability(name, getattr(self, name))
        for name in ("margin", "mos_noise", "annotator_jitter"):
            require_non_negative(name, getattr(self, name))
        require_positive("mos_iou_power", self.mos_iou_power)
        require_int("corner_bins", self.corner_bins, minimum=1)
        require_int("grid_bins", self.grid_bins, minimum=2 * self.corner_bins)
        require_positive_int("n_annotators", self.n_annotators)
        require_int("jpeg_quality", self.jpeg_quality, minimum=1, maximum=100)
        if self.one_colour_prob > 0 and not self.distinct_shapes:
            raise ValueError("one_colour_prob needs distinct_shapes (one colour, one shape name per object)")
        if self.distinct_shapes and self.n_shapes_range[1] > len(self.shapes):
            raise ValueError(
                f"distinct_shapes allows at most {len(self.shapes)} shapes per scene, "
                f"got n_shapes_range {self.n_shapes_range}"
            )


@dataclass(frozen=True)
class ShapeObject:
    """One drawn shape; ``box_xyxy_px`` ``[4]`` float is the exact extent of its pixels."""

    shape: str
    colour: str
    box_xyxy_px: np.ndarray

    @property
    def phrase(self) -> str:
        """``"<colour> <shape>"``, e.g. ``"red circle"``."""
        return f"{self.colour} {self.shape}"


@dataclass
class Scene:
    """One synthetic scene (all boxes xyxy pixels of ``image``).

    ``image``: ``uint8 [H, W, 3]``. ``objects``: every shape. ``named``: indices into ``objects`` of
    the shapes the caption names (1 or 2). ``named_boxes_xyxy_px``: ``[K, 4]`` their boxes.
    ``ideal_xyxy_px``: ``[4]`` the ideal framing. ``candidates_xyxy_px``: ``[N, 4]`` GAIC grid
    crops, ``mos``: ``[N]`` their synthetic MOS on 1..5. ``annotator_boxes_xyxy_px``: ``[A, 4]``.
    """

    image: np.ndarray
    objects: list[ShapeObject]
    named: tuple[int, ...]
    caption: str
    named_boxes_xyxy_px: np.ndarray
    ideal_xyxy_px: np.ndarray
    candidates_xyxy_px: np.ndarray
    mos: np.ndarray
    annotator_boxes_xyxy_px: np.ndarray = field(repr=False)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return int(self.image.shape[1]), int(self.image.shape[0])


# --------------------------------------------------------------------------- drawing


def _background(rng: np.random.Generator, width: int, height: int, texture: str) -> np.ndarray:
    """Low-saturation textured background, ``uint8 [H, W, 3]``."""
    base = (rng.uniform(80, 180) + rng.uniform(-12, 12, size=3)).astype(np.float32)  # tinted grey
    xs = np.arange(width, dtype=np.float32)[None, :]  # [1, W]
    ys = np.arange(height, dtype=np.float32)[:, None]  # [H, 1]
    if texture == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(8, 32)
        phase = (xs * np.cos(angle) + ys * np.sin(angle)) * np.float32(2 * np.pi / period)
        pattern = 25 * np.sin(phase)
    elif texture == "checker":
        cell = int(rng.integers(8, 33))
        pattern = 22 * (((xs // cell) + (ys // cell)) % 2 * 2 - 1)
    elif texture == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        ramp = xs * np.float32(np.cos(angle)) + ys * np.float32(np.sin(angle))
        pattern = 50 * (ramp - ramp.mean()) / max(float(np.ptp(ramp)), 1.0)
    else:
        pattern = np.zeros((height, width), dtype=np.float32)
    noise = rng.standard_normal(size=(height, width), dtype=np.float32) * 10
    image = (pattern + noise)[..., None] + base
    return np.clip(image, 0, 255).astype(np.uint8)


def _star_points(size: int) -> list[tuple[float, float]]:
    centre, outer, inner = (size - 1) / 2, (size - 1) / 2, (size - 1) / 5
    angles = -np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, outer, inner)
    return list(zip(centre + radii * np.cos(angles), centre + radii * np.sin(angles)))


def _shape_mask(shape: str, size: int) -> Image.Image:
    """An ``L`` mask ``size × size`` with the shape drawn in 255."""
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    last = size - 1
    if shape == "circle":
        draw.ellipse((0, 0, last, last), fill=255)
    elif shape == "square":
        draw.rectangle((0, 0, last, last), fill=255)
    elif shape == "triangle":
        draw.polygon([(last / 2, 0), (last, last), (0, last)], fill=255)
    else:
        draw.polygon(_star_points(size), fill=255)
    return mask


def _place_boxes(
    rng: np.random.Generator, sizes: list[int], width: int, height: int, border: tuple[float, float]
) -> list[np.ndarray]:
    """Non-overlapping square slots ``[x1, y1, x2, y2]`` at least ``border`` (x, y) px from the
    edges; a shape that finds no room in a few tries is left out."""
    placed: list[np.ndarray] = []
    for size in sizes:
        for _ in range(_PLACEMENT_TRIES):
            x = rng.uniform(border[0], width - border[0] - size)
            y = rng.uniform(border[1], height - border[1] - size)
            slot = np.array([x, y, x + size, y + size]).round()
            grown = slot + np.array([-1, -1, 1, 1]) * _OBJECT_GAP_PX
            if not placed or B.box_iou(grown[None], np.stack(placed)).max() == 0:
                placed.append(slot)
                break
    return placed


def _draw_objects(
    rng: np.random.Generator, image: Image.Image, config: SyntheticConfig
) -> list[ShapeObject]:
    width, height = image.size
    short = min(width, height)
    n_shapes = int(rng.integers(config.n_shapes_range[0], config.n_shapes_range[1] + 1))
    pairs = [(s, c) for s in config.shapes for c in config.colours]
    if config.distinct_shapes:
        forms = rng.choice(len(config.shapes), size=n_shapes, replace=False)
        colours = rng.integers(len(config.colours), size=n_shapes)
        if config.one_colour_prob > 0 and rng.random() < config.one_colour_prob:
            colours[:] = colours[0]  # shape is the only cue that tells the objects apart
        chosen = forms * len(config.colours) + colours  # index into pairs
    else:
        chosen = rng.choice(len(pairs), size=n_shapes, replace=False)
    sizes = [max(4, round(short * rng.uniform(*config.shape_size_range))) for _ in chosen]
    border = (width / config.grid_bins, height / config.grid_bins)
    objects = []
    for index, slot in zip(chosen, _place_boxes(rng, sizes, width, height, border)):
        shape, colour = pairs[index]
        mask = _shape_mask(shape, int(slot[2] - slot[0]))
        x, y = int(slot[0]), int(slot[1])
        image.paste(COLOURS[colour], (x, y), mask)
        extent = np.asarray(mask.getbbox(), dtype=np.float64)  # exact drawn pixels, x2/y2 exclusive
        objects.append(ShapeObject(shape, colour, extent + np.array([x, y, x, y])))
    return objects


# --------------------------------------------------------------------------- scoring


def ideal_framing(
    named_boxes_xyxy_px: np.ndarray, width: int, height: int, min_area: float, margin: float
) -> np.ndarray:
    """``[4]`` xyxy px: the smallest box with the image's aspect ratio holding the named boxes
    (``[K, 4]``) plus ``margin`` × their union's larger side, covering ≥ ``min_area`` of the image,
    centred on them and shifted inside the image (the whole image if nothing smaller fits)."""
    union = B.union_box(np.asarray(named_boxes_xyxy_px, dtype=np.float64))
    pad = margin * max(union[2] - union[0], union[3] - union[1])
    side = np.sqrt(min_area)
    half = np.maximum(
        (union[2:] - union[:2]) / 2 + pad, np.array([width, height]) * side / 2
    )  # half-size per axis before fitting the aspect ratio
    centre = (union[:2] + union[2:]) / 2
    region = np.concatenate([centre - half, centre + half])
    box, _ = B.fit_aspect_ratio(region, width / height, width, height)
    return box


def synthetic_mos(
    candidates_xyxy_px: np.ndarray,
    named_boxes_xyxy_px: np.ndarray,
    ideal_xyxy_px: np.ndarray,
    rng: np.random.Generator,
    noise: float,
    iou_power: float = 1.0,
) -> np.ndarray:
    """``[N]`` MOS in 1..5 (rounded to 0.01) of ``[N, 4]`` candidates; ``iou_power`` is ``p`` of
    the module docstring's formula."""
    coverage = B.box_coverage(candidates_xyxy_px, named_boxes_xyxy_px).min(axis=1)  # [N]
    iou = B.box_iou(candidates_xyxy_px, ideal_xyxy_px[None])[:, 0]  # [N]
    mos = 1.0 + 4.0 * coverage**4 * (0.2 + 0.8 * iou**iou_power)
    mos = mos + rng.normal(0.0, noise, size=mos.shape) if noise > 0 else mos
    return np.round(np.clip(mos, 1.0, 5.0), 2)


def annotator_boxes(
    ideal_xyxy_px: np.ndarray,
    named_boxes_xyxy_px: np.ndarray,
    width: int,
    height: int,
    rng: np.random.Generator,
    n: int,
    jitter: float,
) -> np.ndarray:
    """``[n, 4]`` xyxy px: the ideal framing with each side jittered by N(0, jitter · image side),
    grown to hold the named boxes again and clamped to the image; whole pixels."""
    scale = np.array([width, height, width, height], dtype=np.float64)
    jittered = ideal_xyxy_px[None] + rng.normal(0.0, jitter, size=(n, 4)) * scale
    union = B.union_box(np.asarray(named_boxes_xyxy_px, dtype=np.float64))
    held = np.stack([B.union_box(np.stack([box, union])) for box in jittered])
    return np.round(B.clamp_xyxy(held, width, height))


def _caption(rng: np.random.Generator, phrases: list[str]) -> str:
    templates = _ONE_OBJECT_TEMPLATES if len(phrases) == 1 else _TWO_OBJECT_TEMPLATES
    return templates[int(rng.integers(len(templates)))].format(*phrases)


def generate_scene(rng: np.random.Generator, config: SyntheticConfig) -> Scene:
    """Draw one scene (see the module docstring) from ``rng``."""
    width = int(rng.integers(config.width_range[0], config.width_range[1] + 1))
    height = int(rng.integers(config.height_range[0], config.height_range[1] + 1))
    texture = config.textures[int(rng.integers(len(config.textures)))]
    canvas = Image.fromarray(_background(rng, width, height, texture))
    objects = _draw_objects(rng, canvas, config)
    n_named = 2 if len(objects) >= 2 and rng.random() < config.two_object_prob else 1
    named = tuple(int(i) for i in rng.choice(len(objects), size=n_named, replace=False))
    named_boxes = np.stack([objects[i].box_xyxy_px for i in named])
    ideal = ideal_framing(named_boxes, width, height, config.min_crop_area, config.margin)
    candidates = candidate_grid(
        width, height, config.grid_bins, config.corner_bins, config.min_crop_area,
        config.aspect_range,
    )
    return Scene(
        image=np.asarray(canvas),
        objects=objects,
        named=named,
        caption=_caption(rng, [objects[i].phrase for i in named]),
        named_boxes_xyxy_px=named_boxes,
        ideal_xyxy_px=ideal,
        candidates_xyxy_px=candidates,
        mos=synthetic_mos(candidates, named_boxes, ideal, rng, config.mos_noise, config.mos_iou_power),
        annotator_boxes_xyxy_px=annotator_boxes(
            ideal, named_boxes, width, height, rng, config.n_annotators, config.annotator_jitter
        ),
    )


# --------------------------------------------------------------------------- writing


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of scene ``index`` of ``split``: independent of how many scenes are written."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def _annotation_text(candidates_xyxy_px: np.ndarray, mos: np.ndarray) -> str:
    rows = candidates_xyxy_px.astype(np.int64)[:, [1, 0, 3, 2]]  # GAIC is row first: y1 x1 y2 x2
    return "".join(f"{y1} {x1} {y2} {x2} {m:.2f}\n" for (y1, x1, y2, x2), m in zip(rows, mos))


def _box_list(box: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in box]


def _write_json(path: Path, data: dict[str, object] | list[dict[str, object]]) -> None:
    """JSON with one entry (list item or key) per line."""
    if isinstance(data, dict):
        lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()]
        text = "{\n" + ",\n".join(lines) + "\n}\n" if lines else "{}\n"
    else:
        text = "[\n" + ",\n".join(json.dumps(v) for v in data) + "\n]\n" if data else "[]\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _write_split(root: Path, split: str, count: int, config: SyntheticConfig) -> dict[str, str]:
    image_dir, annotation_dir = root / "images" / split, root / "annotations" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    annotation_dir.mkdir(parents=True, exist_ok=True)
    captions: dict[str, str] = {}
    caption_set, object_set = [], []
    for index in range(count):
        scene = generate_scene(scene_rng(config.seed, split, index), config)
        name = f"{split}{index:05d}.jpg"
        Image.fromarray(scene.image).save(image_dir / name, quality=config.jpeg_quality)
        (annotation_dir / name).with_suffix(".txt").write_text(
            _annotation_text(scene.candidates_xyxy_px, scene.mos)
        )
        captions[name] = scene.caption
        rel_image = f"../images/{split}/{name}"
        caption_set.append({
            "image": rel_image,
            "query": scene.caption,
            "boxes": [_box_list(b) for b in scene.annotator_boxes_xyxy_px],
        })
        object_set.append({
            "image": rel_image,
            "objects": [
                {"phrase": o.phrase, "box": _box_list(o.box_xyxy_px)} for o in scene.objects
            ],
        })
    _write_json(root / "captions" / f"{split}.json", caption_set)
    _write_json(root / "objects" / f"{split}.json", object_set)
    return captions


def write_gaic_dataset(
    root: Path | str, config: SyntheticConfig | None = None, splits: dict[str, int] | None = None
) -> Path:
    """Write synthetic scenes under ``root`` in the GAIC layout plus caption, object and config
    files (see the module docstring). ``splits``: scenes per split, default
    ``{"train": 200, "val": 20, "test": 40}``. Returns ``root``."""
    config = config or SyntheticConfig()
    splits = {"train": 200, "val": 20, "test": 40} if splits is None else splits
    unknown = set(splits) - set(SPLITS)
    if unknown or any(n < 0 for n in splits.values()):
        raise ValueError(f"splits must map {SPLITS} to counts >= 0, got {splits}")
    root = Path(root)
    for split, count in splits.items():
        captions = _write_split(root, split, count, config)
        _write_json(root / "text" / TEXT_LABEL_FILES[split], captions)
    _write_json(root / "synthetic.json", {"config": asdict(config), "splits": splits})
    return root
