"""``crop_dataset``: Ray Data in, one row of crops per input out."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

from promptcrop.batch import RunOptions
from promptcrop.distributed.actor import Columns, CropActor, PredictorSpec
from promptcrop.distributed.runtime import actor_pool, require_ray
from promptcrop.distributed.storage import is_uri
from promptcrop.errors import RequestError
from promptcrop.options import PredictorOptions
from promptcrop.request import CropRequest


def crop_dataset(
    ds: Any,
    *,
    image_column: str = "image",
    query_column: str | None = None,
    aspect_column: str | None = None,
    aspects: Sequence[str] | str | None = None,
    k: int = 1,
    size: str | None = None,
    fit: str = "crop",
    predictor: PredictorOptions | None = None,
    output: str | None = None,
    concurrency: int | tuple[int, int] | None = None,
    batch_size: int = 8,
    num_gpus: float = 0,
    num_cpus: float | None = None,
    key_column: str | None = None,
    exclude_column: str | None = None,
) -> Any:
    """Crop every image of a Ray dataset; returns a lazy ``ray.data.Dataset``, one row per input.

    Args:
        ds: a ``ray.data.Dataset`` (``ray.data.read_parquet(...)``, ``from_items``...).
        image_column: absolute paths (actors may run in another folder), URIs (``s3://…``, read
            through pyarrow's file systems) or encoded image bytes.
        query_column: per-row text query (null = unconditioned); needs OWL-ViT weights.
        aspect_column: per-row ratios (``"16:9"``, ``"16:9,1:1"`` or a list), replacing ``aspects``.
        aspects, k, size, fit: as ``promptcrop batch -a/-k/--size/--fit``.
        predictor: the model options (:class:`~promptcrop.options.PredictorOptions`; default: its
            defaults; ``offline`` without a query or exclude column and decoder: the weight-free
            mode); ``num_gpus`` puts a CPU predictor on ``cuda``.
        output: local folder or URI for the crop files and JSON records, named
            ``<key>.<rank>.<W>x<H>.<ext>`` / ``<key>.json`` like the local batch runner; ``None``
            writes nothing (the ``file`` fields are null).
        concurrency: number of crop actors, or ``(min, max)`` to autoscale; default one per
            cluster CPU (one per GPU share with ``num_gpus``).
        batch_size: rows per actor call.
        num_gpus: GPUs per actor (its predictor then runs on ``cuda``).
        num_cpus: CPUs per actor; default: sized from the cluster (see ``runtime``).
        key_column: output keys; default ``<stem>-<8 hex>`` from the image, query and ratios.
        exclude_column: per-row descriptions of what to leave out (``"a; b"`` or a list); needs
            OWL-ViT weights, like a query.

    Returns:
        rows of :func:`promptcrop.distributed.actor.row_schema`: ``input``, ``key``, ``mode``,
        ``crops`` (``ratio``, ``rank``, ``box`` xyxy int pixels of the upright image, ``score``,
        ``size``, ``file``), ``error`` (null, or the local runner's one-line reason) and
        ``record`` (the JSON record).

    Raises:
        RequestError: a bad option or a missing column (before anything runs; a ``ValueError``).
        PromptcropError: Ray is not installed.
    """
    require_ray()
    request = CropRequest.build(k=k, aspect=list(aspects) if isinstance(aspects, (list, tuple)) else aspects,
                                size=size, fit=fit)
    options = RunOptions(request=request)
    columns = Columns(image=image_column, query=query_column, aspect=aspect_column, key=key_column,
                      exclude=exclude_column)
    missing = [name for name in columns.names() if name not in ds.columns()]
    if missing:
        raise RequestError(f"the dataset has no column {', '.join(map(repr, missing))} (it has {ds.columns()})")
    if output is not None and not is_uri(output):
        output = os.path.abspath(output)  # actors may run in another folder
    model_options = predictor or PredictorOptions()
    if num_gpus and model_options.device == "cpu":
        model_options = dataclasses.replace(model_options, device="cuda")
    spec = PredictorSpec(model_options, conditioned=query_column is not None or exclude_column is not None)
    return map_crops(ds, spec, options, columns, output=output, concurrency=concurrency, batch_size=batch_size,
                     num_gpus=num_gpus, num_cpus=num_cpus)


def map_crops(
    ds: Any, spec: PredictorSpec, options: RunOptions, columns: Columns, *, output: str | None,
    concurrency: int | tuple[int, int] | None, batch_size: int, num_gpus: float = 0,
    num_cpus: float | None = None, protected: Sequence[str] = (), hint: Callable[[BaseException], str] | None = None,
) -> Any:
    """``ds.map_batches`` with a pool of :class:`CropActor` s (shared by :func:`crop_dataset` and
    the ``--engine ray`` batch runner)."""
    if batch_size < 1:
        raise RequestError(f"batch_size must be at least 1, got {batch_size}")
    pool = actor_pool(concurrency, num_gpus=num_gpus, num_cpus=num_cpus)
    return ds.map_batches(
        CropActor,
        fn_constructor_kwargs={"spec": spec, "options": options, "columns": columns, "output": output,
                               "protected": list(protected), "hint": hint},
        batch_size=batch_size, batch_format="pyarrow", compute=pool.compute(),
        num_cpus=pool.num_cpus, num_gpus=pool.num_gpus or None,
    )  # Ray Data's actor defaults: a dead actor is restarted and its batch retried, without limit
