"""The HTTP routes: the crop API (``/v1/*``), probes, metrics and the page.

Every model call goes through the app's :class:`~promptcrop.serve.limits.WorkerPool`: a crop
request takes a slot before its upload is read into memory, its fields are parsed by
:meth:`CropRequest.build` before a worker is taken (a bad parameter costs no model time), and its
call gets the slot's deadline.
"""

from __future__ import annotations

import dataclasses
from importlib.resources import files
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from promptcrop import __version__
from promptcrop.errors import RequestError
from promptcrop.request import CropRequest, parse_boxes
from promptcrop.serve.metrics import CONTENT_TYPE
from promptcrop.serve.service import CROP_FORMATS, CropJob, check_job, crop_image, crop_record, unavailable_message

STATIC_DIR = files("promptcrop.serve") / "static"


class CropFields:
    """The multipart fields shared by both crop routes (every crop option of the command line)."""

    def __init__(
        self,
        image: Annotated[UploadFile, File(description="the photo to crop (JPEG, PNG, WebP, TIFF, BMP, GIF)")],
        query: Annotated[str | None, Form(description="what to keep, in words")] = None,
        query_image: Annotated[UploadFile | None, File(description="an example image of what to keep")] = None,
        aspect: Annotated[list[str], Form(description="aspect ratio, repeatable: 16:9, 4x5, 1.5")] = [],  # noqa: B006
        size: Annotated[str | None, Form(description="exact output size WxH in pixels (instead of aspect)")] = None,
        k: Annotated[int, Form(description="crops per ratio")] = 5,
        fit: Annotated[Literal["crop", "pad"], Form(description="pad: letterbox when the region does not fit")] = "crop",
        focus: Annotated[list[str], Form(description="pixel box x1,y1,x2,y2 to keep, repeatable")] = [],  # noqa: B006
        avoid: Annotated[list[str], Form(description="pixel box x1,y1,x2,y2 to leave out, repeatable")] = [],  # noqa: B006
        exclude: Annotated[
            list[str], Form(description="what to leave out, in words (needs the OWL-ViT weights), repeatable")
        ] = [],  # noqa: B006
        explain: Annotated[bool, Form(description="add each crop's score breakdown")] = False,
    ) -> None:
        self.image = image
        self.query = (query or "").strip() or None
        self.query_image = query_image if query_image is not None and query_image.filename else None
        self.aspect = [a for a in aspect if a.strip()]
        self.size = (size or "").strip() or None
        self.k = k
        self.fit = fit
        self.focus = [b for b in focus if b.strip()]
        self.avoid = [b for b in avoid if b.strip()]
        self.exclude = [e for e in exclude if e.strip()]
        self.explain = explain

    async def job(self, image_format: str | None = None) -> CropJob:
        """Read the uploads (already limited in size) and parse the options."""
        request = CropRequest.build(
            k=self.k, aspect=self.aspect or None, size=self.size, fit=self.fit,
            focus=parse_boxes("focus", self.focus), avoid=parse_boxes("avoid", self.avoid),
            exclude=self.exclude,
        )
        return CropJob(
            image=await self.image.read(), request=request, query=self.query,
            query_image=await self.query_image.read() if self.query_image is not None else None,
            explain=self.explain, format=image_format,
        )


def api_router(require_key: Any) -> APIRouter:
    """The authenticated routes: ``/v1/*`` and ``/metrics``."""
    router = APIRouter(dependencies=[Depends(require_key)])

    @router.post("/v1/crops", summary="Crop an image: the JSON record (schema 1) of every crop")
    async def crops(request: Request, fields: Annotated[CropFields, Depends()]) -> JSONResponse:
        state = request.app.state.service
        async with state.pool.admitted() as slot:  # before the upload is read into memory
            job = await fields.job()
            check_job(state.loaded, job)
            record = await slot.run(crop_record, state.predictor, job, slot.deadline)
        return JSONResponse(record)

    @router.post(
        "/v1/crop", summary="Crop an image: the best crop's image bytes",
        response_class=Response, responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
    )
    async def crop(
        request: Request,
        fields: Annotated[CropFields, Depends()],
        format: Annotated[str | None, Form(description="jpeg, png or webp (default: the input's)")] = None,
    ) -> Response:
        state = request.app.state.service
        fmt = (format or "").strip().lower() or None
        if fmt is not None and fmt not in CROP_FORMATS:
            raise RequestError(f"format must be one of jpeg, png, webp, got {format!r}")
        async with state.pool.admitted() as slot:  # before the upload is read into memory
            job = await fields.job(CROP_FORMATS[fmt] if fmt else None)
            check_job(state.loaded, job)
            result = await slot.run(crop_image, state.predictor, job, slot.deadline)
        headers = {
            "X-Promptcrop-Box": ",".join(str(v) for v in result.box),
            "X-Promptcrop-Score": f"{result.score:.6f}",
            "X-Promptcrop-Mode": result.mode,
            "X-Promptcrop-Ratio": result.ratio,
        }
        return Response(result.data, media_type=result.media_type, headers=headers)

    @router.get("/v1/info", summary="Modes, model, versions and limits of this server")
    async def info(request: Request) -> dict[str, Any]:
        state = request.app.state.service
        settings = state.settings
        reason = state.loaded.queries_unavailable
        details = state.predictor.info()
        return {
            "promptcrop": __version__,
            "modes": details.get("modes"),
            "queries_available": reason is None,
            "queries_unavailable": None if reason is None else unavailable_message(reason),
            "model": details.get("model"),
            "decoder": details.get("decoder"),
            "device": str(details.get("device")),
            "versions": state.predictor.versions("offline" if reason else _best_mode(details)),
            "limits": {
                **dataclasses.asdict(state.predictor.limits),
                "max_upload_mb": settings.max_upload_mb,
                "max_pixels": settings.max_pixels,
                "timeout_s": settings.timeout_s,
                "header_timeout_s": settings.header_timeout_s,
                "body_timeout_s": settings.body_timeout_s,
                "keep_alive_s": settings.keep_alive_s,
                "max_connections": settings.max_connections,
                "threads": settings.threads,
                "max_queue": settings.max_queue,
            },
            "auth": settings.api_key is not None,
        }

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        return Response(request.app.state.service.metrics.render(), media_type=CONTENT_TYPE)

    return router


def _best_mode(details: dict[str, Any]) -> str:
    modes = details.get("modes") or ["offline"]
    for mode in ("clipcrop", "zeroshot", "offline"):
        if mode in modes:
            return mode
    return "offline"


def public_router() -> APIRouter:
    """Routes without authentication: probes and the page (it asks for the key itself)."""
    router = APIRouter()

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The model is loaded and the queue has room")
    async def readyz(request: Request) -> JSONResponse:
        pool = request.app.state.service.pool
        if pool.full:
            return JSONResponse({"status": "busy", "queue_depth": pool.waiting}, status_code=503)
        return JSONResponse({"status": "ready", "queue_depth": pool.waiting})

    @router.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC_DIR / "index.html"), media_type="text/html")

    return router
