"""The methods the evaluation compares, each a name + a function of one sample.

Every method returns, for one image and (optionally) one text query, a ranked list of xyxy pixel
boxes of the EXIF-upright image with a score each (:class:`MethodOutput`). All model-based methods go
through :class:`promptcrop.predictor.Predictor`; none re-implements inference.

=====================  ============================================================================
name                   what it returns
=====================  ============================================================================
``whole-image``        the whole image (one box; no model)
``centre-crop``        the centred box of the image's aspect ratio covering :data:`CENTRE_CROP_AREA`
                       of the image area (one box; no model) **[ours: 80 %]**
``owlvit-top``         OWL-ViT's single highest-logit box for the full-text query (paper Tables 1–2
                       "OWL-ViT"; the grounding of the full text, score = its sigmoid probability)
``grounding-union``    the union box ``b_u`` of the full text's and the keywords' grounded boxes
``zeroshot``           the training-free composer around ``b_u`` (``Predictor`` mode ``zeroshot``)
``offline``            saliency + composer, no weights, no query (``Predictor`` mode ``offline``)
``clipcrop``           the ClipCrop decoder, full text + keywords (``Predictor`` mode ``clipcrop``)
``clipcrop-base``      the same decoder without the query (paper Table 3 / 4 "ClipCrop-base")
``clipcrop-text``      the decoder grounded on the full text only (Table 4 "ClipCrop-main")
``clipcrop-keywords``  the decoder grounded on the keywords only (Table 4 "ClipCrop-key")
=====================  ============================================================================

Methods that read the same Predictor call (``owlvit-top``, ``grounding-union`` and ``zeroshot`` all
read one conditioned zero-shot prediction) share it: :meth:`MethodPool.run_sample` calls the
Predictor once per distinct :class:`PredictorCall` and sample.

A method whose weights, decoder or query is missing is *unavailable*:
:meth:`MethodPool.unavailable_reason` says why in one line, and the runner reports it as skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from promptcrop import boxes as B
from promptcrop.defaults import MODES
from promptcrop.errors import CheckpointError, ModelUnavailableError, PromptcropError
from promptcrop.metrics import ACC_BAR_KS
from promptcrop.options import PredictorOptions
from promptcrop.predictor import Predictor
from promptcrop.queries import DEFAULT_QUERY_PARTS, QUERY_PARTS
from promptcrop.results import Prediction
from promptcrop.validation import require_choice

CENTRE_CROP_AREA = 0.8
"""Share of the image area the ``centre-crop`` baseline keeps (its sides are √0.8 ≈ 89.4 % of the
image's, so the box keeps the image's aspect ratio) **[ours]**."""

TOP_K = max(ACC_BAR_KS)
"""Crops asked of every ranked method: Acc̄_N needs the top 4 (K = 1..4); IoU uses the top 1."""

GROUPS = ("cropping", "grounding", "conditioned", "ablation")
"""Where a method sits in the paper's tables: unconditioned cropping, visual grounding,
conditioned cropping, and the query ablations of Table 4."""

# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class MethodOutput:
    """What one method returned for one sample, best first.

    ``boxes_xyxy_px``: ``[R, 4]`` float64 xyxy pixels of the EXIF-upright image (R = 0: nothing).
    ``scores``: ``[R]`` float64, the method's own score of each box; a method that returns one box
    without a score of its own (whole image, centre crop, union box) gives it 1.0.
    """

    boxes_xyxy_px: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if len(scores) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
        object.__setattr__(self, "boxes_xyxy_px", boxes)
        object.__setattr__(self, "scores", scores)

    @classmethod
    def single(cls, box_xyxy_px: Sequence[float] | np.ndarray, score: float = 1.0) -> MethodOutput:
        """One box ``[4]`` with one score."""
        return cls(np.asarray(box_xyxy_px, dtype=np.float64)[None], np.array([score]))

    @classmethod
    def empty(cls) -> MethodOutput:
        """No box (counts as a miss in every metric)."""
        return cls(np.zeros((0, 4)), np.zeros(0))


@dataclass(frozen=True)
class MethodResult:
    """One method on one sample: its ``output``, or ``error`` (one line) when the Predictor raised a
    :class:`~promptcrop.errors.PromptcropError` for this sample (``output`` is then empty)."""

    output: MethodOutput
    error: str | None = None


@dataclass(frozen=True)
class PredictorCall:
    """The Predictor call a method reads: ``mode`` (``zeroshot`` | ``offline`` | ``clipcrop``),
    ``query_parts`` (``both`` | ``text`` | ``keywords``) and whether the sample's query is passed."""

    mode: str
    query_parts: str = DEFAULT_QUERY_PARTS
    conditioned: bool = True

    def __post_init__(self) -> None:
        require_choice("mode", self.mode, MODES)
        require_choice("query_parts", self.query_parts, QUERY_PARTS)
        if self.mode == "offline" and self.conditioned:
            raise ValueError("the offline mode cannot follow a query (conditioned=False)")


Reader = Callable[[Prediction | None, tuple[int, int]], MethodOutput]
"""``(prediction of the method's call, or None for no call; image (W, H)) → MethodOutput``."""


@dataclass(frozen=True)
class Method:
    """One evaluated method.

    ``name``: the CLI name (``--methods``). ``label``: its row in the tables. ``group``: one of
    :data:`GROUPS`. ``call``: the Predictor call it reads, None for a pure geometry baseline.
    ``read``: turns that prediction (or nothing) and the image size into a :class:`MethodOutput`.
    ``description``: one line for ``--help`` and the report.
    """

    name: str
    label: str
    group: str
    call: PredictorCall | None
    read: Reader = field(repr=False)
    description: str = ""

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"group must be one of {', '.join(GROUPS)}, got {self.group!r}")

    @property
    def needs_query(self) -> bool:
        """True when the method follows the sample's text query."""
        return self.call is not None and self.call.conditioned


# --------------------------------------------------------------------------- readers


def whole_image_box(image_size: tuple[int, int]) -> np.ndarray:
    """``[4]`` xyxy pixels of the whole ``(W, H)`` image."""
    width, height = image_size
    return np.array([0.0, 0.0, float(width), float(height)])


def centre_crop_box(image_size: tuple[int, int], area: float = CENTRE_CROP_AREA) -> np.ndarray:
    """``[4]`` xyxy pixels: the centred box of the image's aspect ratio covering ``area`` of it."""
    if not 0.0 < area <= 1.0:
        raise ValueError(f"area must be in (0, 1], got {area}")
    width, height = image_size
    side = math.sqrt(area)
    return B.scale_shift_xyxy(
        whole_image_box(image_size), side, side, width * (1 - side) / 2, height * (1 - side) / 2
    )


def _read_whole_image(_: Prediction | None, image_size: tuple[int, int]) -> MethodOutput:
    return MethodOutput.single(whole_image_box(image_size))


def _read_centre_crop(_: Prediction | None, image_size: tuple[int, int]) -> MethodOutput:
    return MethodOutput.single(centre_crop_box(image_size))


def _require(prediction: Prediction | None) -> Prediction:
    if prediction is None:
        raise ValueError("this method reads a Predictor call but got no prediction")
    return prediction


def read_top_crops(prediction: Prediction | None, _: tuple[int, int]) -> MethodOutput:
    """The crops of the first requested aspect, by rank (the Predictor's ranked list)."""
    crops = list(_require(prediction))
    if not crops:
        return MethodOutput.empty()
    first = [c for c in crops if c.aspect == crops[0].aspect]
    first.sort(key=lambda c: c.rank)
    return MethodOutput(
        np.array([c.box for c in first], dtype=np.float64), np.array([c.score for c in first])
    )


def read_region(prediction: Prediction | None, _: tuple[int, int]) -> MethodOutput:
    """The region the crops were built to keep (for ``zeroshot``: the grounded union box b_u)."""
    pred = _require(prediction)
    if pred.region is None:
        raise PromptcropError(f"the {pred.mode} prediction has no region")
    return MethodOutput.single(pred.region)


def read_full_text_box(prediction: Prediction | None, _: tuple[int, int]) -> MethodOutput:
    """The box grounded for the full query text (its highest-logit OWL-ViT token); score =
    sigmoid(logit), OWL-ViT's detection probability."""
    pred = _require(prediction)
    match = next((g for g in pred.grounding if g.phrase == pred.query), None)
    if match is None:
        raise PromptcropError(f"no grounded box for the full query {pred.query!r}")
    return MethodOutput.single(match.box, 1.0 / (1.0 + math.exp(-match.logit)))


# --------------------------------------------------------------------------- the registry

_ZEROSHOT = PredictorCall("zeroshot")

METHODS: tuple[Method, ...] = (
    Method("whole-image", "Whole image", "cropping", None, _read_whole_image,
           "the whole image"),
    Method("centre-crop", "Centre crop", "cropping", None, _read_centre_crop,
           f"centred box of the image ratio covering {CENTRE_CROP_AREA:.0%} of the area"),
    Method("offline", "Saliency + composer, offline", "cropping",
           PredictorCall("offline", conditioned=False), read_top_crops,
           "weight-free saliency region + composer, ignores the query"),
    Method("clipcrop-base", "ClipCrop-base", "cropping",
           PredictorCall("clipcrop", conditioned=False), read_top_crops,
           "ClipCrop decoder without the query (b_u = whole image)"),
    Method("owlvit-top", "OWL-ViT top box", "grounding", _ZEROSHOT, read_full_text_box,
           "OWL-ViT's highest-scoring box for the full text"),
    Method("grounding-union", "Grounding union box", "grounding", _ZEROSHOT, read_region,
           "union b_u of the boxes grounded for the full text and its keywords"),
    Method("zeroshot", "Zero-shot composer", "conditioned", _ZEROSHOT, read_top_crops,
           "training-free composer around b_u"),
    Method("clipcrop", "ClipCrop", "conditioned", PredictorCall("clipcrop"), read_top_crops,
           "ClipCrop decoder, full text + keywords"),
    Method("clipcrop-text", "ClipCrop-main, full text only", "ablation",
           PredictorCall("clipcrop", query_parts="text"), read_top_crops,
           "ClipCrop decoder grounded on the full text only"),
    Method("clipcrop-keywords", "ClipCrop-key, keywords only", "ablation",
           PredictorCall("clipcrop", query_parts="keywords"), read_top_crops,
           "ClipCrop decoder grounded on the keywords only"),
)
"""Every method, in the fixed order runs and tables use."""

METHOD_NAMES: tuple[str, ...] = tuple(m.name for m in METHODS)


def get_methods(names: Iterable[str] | None = None) -> tuple[Method, ...]:
    """The named methods in registry order (duplicates dropped); None → all. ValueError names an
    unknown method and lists the known ones."""
    if names is None:
        return METHODS
    wanted = list(names)
    unknown = [n for n in wanted if n not in METHOD_NAMES]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHOD_NAMES)}")
    if not wanted:
        raise ValueError("no method selected")
    return tuple(m for m in METHODS if m.name in wanted)


# --------------------------------------------------------------------------- running them


@dataclass(frozen=True)
class ModelSettings:
    """The weights and device the model-based methods use.

    ``predictor``: the :class:`~promptcrop.options.PredictorOptions` of every method's Predictor —
    ``model`` None: only the weight-free methods run; ``decoder`` None: the ``clipcrop*`` methods
    are skipped; ``offline``: never download. ``k``: crops asked of ranked methods.
    """

    predictor: PredictorOptions = field(default_factory=PredictorOptions)
    k: int = TOP_K

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")


class MethodPool:
    """Builds the Predictors the methods need (lazily, one per mode and query parts) and runs the
    methods on one sample at a time, calling each distinct :class:`PredictorCall` once."""

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        self._predictors: dict[tuple[str, str], Predictor] = {}
        self._unavailable: dict[tuple[str, str], str | None] = {}

    def predictor(self, call: PredictorCall) -> Predictor:
        """The Predictor serving ``call`` (built on first use; weights load on first predict)."""
        key = (call.mode, call.query_parts)
        if key not in self._predictors:
            s = self.settings.predictor
            shared = next(  # one copy of the OWL-ViT weights for every mode
                (p.loaded_encoder for p in self._predictors.values() if p.loaded_encoder is not None),
                None,
            )
            self._predictors[key] = Predictor(
                encoder=None if call.mode == "offline" else shared,
                model=None if call.mode == "offline" else s.model,
                decoder=s.decoder if call.mode == "clipcrop" else None,
                mode=call.mode,
                local_files_only=s.offline,
                query_parts=call.query_parts,
                **s.predictor_kwargs(),
            )
        return self._predictors[key]

    def unavailable_reason(self, method: Method) -> str | None:
        """None when ``method`` can run; otherwise one line saying what is missing. Loads the
        weights (and the decoder) once to find out."""
        call = method.call
        if call is None or call.mode == "offline":
            return None
        key = (call.mode, call.query_parts)
        if key not in self._unavailable:
            self._unavailable[key] = self._check(call)
        return self._unavailable[key]

    def _check(self, call: PredictorCall) -> str | None:
        if self.settings.predictor.model is None:
            return "needs the OWL-ViT weights (--model); none configured"
        if call.mode == "clipcrop" and self.settings.predictor.decoder is None:
            return "needs a trained ClipCrop decoder checkpoint (--decoder)"
        predictor = self.predictor(call)
        try:
            predictor.load()  # the OWL-ViT weights, and the decoder in clipcrop mode
        except (ModelUnavailableError, CheckpointError) as exc:
            return str(exc)
        return None

    def run_sample(
        self, methods: Sequence[Method], image: np.ndarray, query: str | None
    ) -> dict[str, MethodResult]:
        """Run ``methods`` (all available) on one image.

        ``image``: ``uint8 [H, W, 3]`` RGB, EXIF-upright. ``query``: the sample's text, passed to the
        conditioned calls. Returns one :class:`MethodResult` per method name; a
        :class:`~promptcrop.errors.PromptcropError` from one call becomes that result's ``error``.
        """
        image_size = (int(image.shape[1]), int(image.shape[0]))
        predictions: dict[PredictorCall, Prediction | PromptcropError] = {}
        results: dict[str, MethodResult] = {}
        for method in methods:
            call = method.call
            if call is not None and call not in predictions:
                predictions[call] = self._predict(call, image, query)
            prediction = None if call is None else predictions[call]
            results[method.name] = _read(method, prediction, image_size)
        return results

    def _predict(
        self, call: PredictorCall, image: np.ndarray, query: str | None
    ) -> Prediction | PromptcropError:
        try:
            return self.predictor(call).predict(
                image, query if call.conditioned else None, k=self.settings.k
            )
        except PromptcropError as exc:
            return exc


def _read(
    method: Method, prediction: Prediction | PromptcropError | None, image_size: tuple[int, int]
) -> MethodResult:
    if isinstance(prediction, PromptcropError):
        return MethodResult(MethodOutput.empty(), error=str(prediction))
    try:
        return MethodResult(method.read(prediction, image_size))
    except PromptcropError as exc:
        return MethodResult(MethodOutput.empty(), error=str(exc))
