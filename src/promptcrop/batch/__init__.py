"""The batch front end: inputs as jobs (:mod:`~promptcrop.batch.jobs`), the resumable runner
(:mod:`~promptcrop.batch.runner`), the files it writes (:mod:`~promptcrop.batch.outputs`), decoding
ahead (:mod:`~promptcrop.batch.prefetch`) and the progress bar (:mod:`~promptcrop.batch.progress`).
"""

from __future__ import annotations

from promptcrop.batch.jobs import (
    MANIFEST_SUFFIXES,
    Job,
    JobError,
    is_parquet_folder,
    jobs_from_folder,
    jobs_from_manifest,
    jobs_from_paths,
    row_aspects,
    row_exclude,
)
from promptcrop.batch.runner import (
    ERRORS_FILE,
    BatchRunner,
    BatchSummary,
    RecordCallback,
    RunOptions,
    fingerprint,
    prepare_output_dir,
    run_jobs,
)

__all__ = [
    "ERRORS_FILE", "MANIFEST_SUFFIXES", "BatchRunner", "BatchSummary", "Job", "JobError", "RecordCallback",
    "RunOptions", "fingerprint", "is_parquet_folder", "jobs_from_folder", "jobs_from_manifest",
    "jobs_from_paths", "prepare_output_dir", "row_aspects", "row_exclude", "run_jobs",
]
