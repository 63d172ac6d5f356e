"""The service's model side: building the one Predictor and running one crop request on it.

Everything here is plain Python (no HTTP): the routes parse the form, then hand a
:class:`CropJob` to :func:`run_crop` on a worker thread of the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from promptcrop.batch.outputs import output_format
from promptcrop.deadline import Deadline, check_deadline
from promptcrop.errors import ModelUnavailableError, RequestError, failure_reason
from promptcrop.images import LoadedImage, encode_image, load_image
from promptcrop.predictor import Predictor
from promptcrop.request import EXCLUDE_NEEDS_WEIGHTS, CropRequest, RequestLimits, check_condition
from promptcrop.results import FREE_RATIO, Prediction, build_record
from promptcrop.serve.settings import ServeSettings

ENABLE_QUERIES_HINT = (
    "to enable them, start the server with cached OWL-ViT weights (run `promptcrop download` once "
    "while online) or with --model DIR, and without --offline"
)

#: ``format`` field of ``POST /v1/crop`` → Pillow format.
CROP_FORMATS = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
               "BMP": "image/bmp", "TIFF": "image/tiff"}


@dataclass(frozen=True)
class LoadedPredictor:
    """The service's Predictor and, when text and image queries cannot run, why not."""

    predictor: Predictor
    queries_unavailable: str | None = None


def build_predictor(settings: ServeSettings) -> LoadedPredictor:
    """Build and load the Predictor once, at start-up.

    ``--offline`` (without a decoder) serves the weight-free mode. Otherwise the OWL-ViT weights
    (and the decoder) load now; when the weights are missing the service still starts in the
    weight-free mode and says why queries are unavailable — unless a decoder was asked for, which
    cannot run without them (:class:`ModelUnavailableError` / ``CheckpointError`` propagate).
    """
    predictor = Predictor.from_options(
        settings.predictor, conditioned=False,
        limits=RequestLimits(max_ratio=settings.max_ratio, max_pixels=settings.max_pixels),
    )
    if predictor.model_id is None:
        return LoadedPredictor(predictor, "the server runs in the weight-free offline mode")
    try:
        predictor.load()
    except ModelUnavailableError as exc:
        if settings.predictor.decoder is not None:
            raise
        return LoadedPredictor(predictor, failure_reason(exc))
    return LoadedPredictor(predictor, None if predictor.queries_available else "no OWL-ViT weights loaded")


def unavailable_message(reason: str) -> str:
    """The one line saying queries are unavailable, why, and how to enable them."""
    return f"text and image queries are unavailable ({reason}); {ENABLE_QUERIES_HINT}"


@dataclass(frozen=True)
class CropJob:
    """One request's inputs, validated except for the image bytes (decoded on the worker).

    ``image`` / ``query_image``: encoded bytes as uploaded; ``request``: the parsed crop options;
    ``format``: Pillow format of ``POST /v1/crop``'s answer, ``None`` = the input's own.
    """

    image: bytes
    request: CropRequest
    query: str | None = None
    query_image: bytes | None = None
    explain: bool = False
    format: str | None = None


@dataclass(frozen=True)
class CropImage:
    """The best crop encoded: ``data`` bytes of ``media_type``, and the crop's metadata."""

    data: bytes
    media_type: str
    box: tuple[int, int, int, int]
    score: float
    mode: str
    ratio: str
    """The crop's width/height as a number (never the caller's text: it goes into a header)."""


def check_job(loaded: LoadedPredictor, job: CropJob) -> None:
    """Refuse, before it takes a worker, a request beyond the Predictor's
    :class:`~promptcrop.request.RequestLimits` and a query the server cannot follow (the
    Predictor checks the limits again; here they cost no worker time)."""
    loaded.predictor.limits.check(job.request)
    loaded.predictor.limits.check_query(job.query)
    check_condition([job.query], job.query_image)
    if (job.query is not None or job.query_image is not None) and loaded.queries_unavailable:
        raise ModelUnavailableError(unavailable_message(loaded.queries_unavailable))
    if job.request.exclude and loaded.queries_unavailable:
        raise ModelUnavailableError(f"{EXCLUDE_NEEDS_WEIGHTS}; {unavailable_message(loaded.queries_unavailable)}")


def predict(predictor: Predictor, job: CropJob, deadline: Deadline | None = None) -> tuple[LoadedImage, Prediction]:
    """Decode the upload and run the Predictor on it (blocking: call it on a worker); past
    ``deadline`` it stops at the next stage with :class:`~promptcrop.errors.DeadlineExceeded`."""
    check_deadline(deadline, "decode")
    image = load_image(job.image, max_pixels=predictor.max_pixels)
    query_image = None
    if job.query_image is not None:
        query_image = load_image(job.query_image, max_pixels=predictor.max_pixels)
    prediction = predictor.predict_batch(
        [image], [job.query], query_image=query_image, request=job.request, deadline=deadline
    )[0]
    return image, prediction


def crop_record(predictor: Predictor, job: CropJob, deadline: Deadline | None = None) -> dict[str, Any]:
    """``POST /v1/crops``: the JSON record of the prediction (no file names)."""
    _image, prediction = predict(predictor, job, deadline)
    return build_record(prediction, explain=job.explain)


def crop_image(predictor: Predictor, job: CropJob, deadline: Deadline | None = None) -> CropImage:
    """``POST /v1/crop``: the best crop (rank 1 of the first ratio asked), cut, padded, resized and
    encoded in ``job.format`` or the input's own format (PNG when Pillow cannot write it)."""
    image, prediction = predict(predictor, job, deadline)
    if not len(prediction):
        raise RequestError("no crop could be made for this image")
    best = prediction[0]
    fmt = job.format or output_format(image.format).format
    pil = best.apply(Image.fromarray(image.array))
    check_deadline(deadline, "encode output")
    data = encode_image(pil, fmt, icc_profile=image.icc_profile)
    return CropImage(
        data=data, media_type=MEDIA_TYPES.get(fmt, "application/octet-stream"),
        box=tuple(int(v) for v in best.box), score=float(best.score), mode=prediction.mode,  # type: ignore[arg-type]
        ratio=FREE_RATIO if best.aspect is None else f"{best.aspect:.6g}",
    )
