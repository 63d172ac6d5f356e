"""Reframe videos: analysis, one camera path per ratio, the crop-path JSON and the rendered MP4.

:class:`Reframer` is the Python API and what ``promptcrop reframe`` runs. Per input it decodes
the video once for the analysis (:mod:`promptcrop.reframe.subjects`), solves one path per ratio
(:mod:`promptcrop.reframe.path`), then — unless ``path_only`` — decodes it once more and encodes
every ratio's MP4 in the same pass, copying the audio. For each input and ratio it writes

- ``<stem>.<label>.mp4`` (label = the ratio with ``:`` as ``x``: ``9:16`` → ``9x16``), then
- ``<stem>.<label>.reframe.json``, the crop path (see :func:`build_record`; the schema is in
  docs/REFRAME.md).

Every file is written to a hidden temporary in the output folder and renamed when complete, the
JSON last: a killed run leaves no half-written file, and an input whose JSON files are there with
the same fingerprint (input file, options, model) is skipped by the next run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from promptcrop import boxes as B
from promptcrop.errors import RequestError, failure_reason, is_user_error
from promptcrop.images import atomic_write_text
from promptcrop.postprocess import largest_crop_size, round_letterbox
from promptcrop.reframe.path import PathConfig, ShotPath, solve_path
from promptcrop.reframe.shots import shots_from_cuts
from promptcrop.reframe.subjects import (
    Analysis,
    AnalysisConfig,
    Keyframe,
    KeyframeAnalyser,
    analyse_video,
    frame_tracks,
)
from promptcrop.reframe.video import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_SECONDS,
    EncodeOptions,
    RenderTarget,
    VideoError,
    VideoInfo,
    crop_frame,
    even_size,
    probe,
    render,
)

if TYPE_CHECKING:
    from promptcrop.predictor import Predictor
    from promptcrop.request import CropRequest

SCHEMA = 1
JSON_SUFFIX = ".reframe.json"
VIDEO_SUFFIX = ".mp4"
FITS = ("crop", "pad")
#: Share of a shot's keyframes whose framing must be letterboxed for ``fit=pad`` to pad the shot.
PAD_MAJORITY = 0.5
_TEMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


@dataclass(frozen=True)
class ReframeOptions:
    """What to make of every input, validated once (:class:`RequestError` otherwise).

    ``ratios``: labels as typed (``"9:16"``); ``query`` / ``query_image``: what to follow (none:
    the offline or unconditioned subject); ``exclude``: what to leave out (needs the weights);
    ``fit``: ``crop``, or ``pad`` — letterbox the shots whose subject does not fit the ratio;
    ``path_only``: write the JSON only; ``overwrite``: redo finished inputs; ``analysis``,
    ``path``, ``encode``: the stages' settings; ``max_pixels`` / ``max_seconds``: input limits.
    """

    ratios: tuple[str, ...] = ("9:16",)
    query: str | None = None
    query_image: str | None = None
    exclude: tuple[str, ...] = ()
    fit: str = "crop"
    path_only: bool = False
    overwrite: bool = False
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    path: PathConfig = field(default_factory=PathConfig)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_seconds: float = DEFAULT_MAX_SECONDS

    def __post_init__(self) -> None:
        if self.query is not None and self.query_image is not None:
            raise RequestError("give a text query or a query image, not both")
        if self.fit not in FITS:
            raise RequestError(f"fit must be 'crop' or 'pad', got {self.fit!r}")
        if self.max_pixels < 1 or self.max_seconds <= 0:
            raise RequestError("max_pixels and max_seconds must be positive")
        object.__setattr__(self, "ratios", tuple(self.request().labels))

    def request(self) -> CropRequest:
        """The predictor request of every keyframe: the top crop per ratio."""
        from promptcrop.request import CropRequest

        return CropRequest.build(k=1, aspect=list(self.ratios), fit=self.fit, exclude=self.exclude)

    def to_json(self) -> dict[str, Any]:
        """What the fingerprint and the record keep of these options."""
        return {
            "ratios": list(self.ratios), "query": self.query, "query_image": self.query_image,
            "exclude": list(self.exclude), "fit": self.fit, "path_only": self.path_only,
            "keyframe_rate": self.analysis.keyframe_rate, "analysis_side": self.analysis.analysis_side,
            "shots": dataclasses.asdict(self.analysis.shots), "path": dataclasses.asdict(self.path),
            "encode": dataclasses.asdict(self.encode),
        }


def file_label(ratio: str) -> str:
    """The ratio as it appears in file names: ``9:16`` → ``9x16``."""
    return re.sub(r"[:/]", "x", ratio.strip())


@dataclass(frozen=True)
class ReframeResult:
    """One input at one ratio: its ``record`` (the JSON), where it was written, whether skipped."""

    input: str
    ratio: str
    json_path: Path
    video_path: Path | None
    record: dict[str, Any]
    skipped: bool = False


@dataclass
class ReframeSummary:
    """How a run over many inputs went."""

    out_dir: Path
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def line(self) -> str:
        return (f"promptcrop: {self.total} video{'s' if self.total != 1 else ''}: {self.done} reframed, "
                f"{self.skipped} already done, {len(self.failed)} failed; outputs in {self.out_dir} "
                f"({self.seconds:.1f} s)")


class Reframer:
    """Reframes videos with one :class:`~promptcrop.predictor.Predictor` into ``out_dir``.

    ``progress``: a function making a progress bar (``total``, ``desc``) — see
    :func:`promptcrop.progress.bar`; ``None`` shows none.
    """

    def __init__(self, predictor: Predictor, options: ReframeOptions, out_dir: str | os.PathLike[str],
                 progress: Callable[..., Any] | None = None) -> None:
        self.predictor = predictor
        self.options = options
        self.out_dir = Path(out_dir)
        self.progress = progress
        self._analyser = KeyframeAnalyser(predictor, options.request(), query=options.query,
                                          query_image=options.query_image)

    # -------------------------------------------------------------------------- files

    def paths(self, source: str | os.PathLike[str], ratio: str) -> tuple[Path, Path]:
        """``(json, mp4)`` paths of ``source`` at ``ratio``."""
        base = self.out_dir / f"{Path(source).stem}.{file_label(ratio)}"
        return base.with_name(base.name + JSON_SUFFIX), base.with_name(base.name + VIDEO_SUFFIX)

    def fingerprint(self, source: str | os.PathLike[str]) -> str:
        """A short hash of the input file (size, mtime), the options and the model."""
        st = os.stat(source)
        data = {"input": [os.path.abspath(source), st.st_size, st.st_mtime_ns], "options": self.options.to_json(),
                "model": self.predictor.model_id, "mode": self.predictor.mode}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def finished(self, source: str | os.PathLike[str]) -> list[ReframeResult] | None:
        """The results of a previous complete run of ``source`` with these options, else None."""
        try:
            fingerprint = self.fingerprint(source)
        except OSError:
            return None
        results = []
        for ratio in self.options.ratios:
            json_path, video_path = self.paths(source, ratio)
            try:
                record = json.loads(json_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            if record.get("fingerprint") != fingerprint:
                return None
            if not self.options.path_only and not video_path.is_file():
                return None
            results.append(ReframeResult(str(source), ratio, json_path,
                                         None if self.options.path_only else video_path, record, skipped=True))
        return results

    # -------------------------------------------------------------------------- one input

    def run(self, source: str | os.PathLike[str]) -> list[ReframeResult]:
        """Reframe one video at every ratio (or return the finished results of an earlier run)."""
        if not self.options.overwrite:
            done = self.finished(source)
            if done is not None:
                return done
        opts = self.options
        info = probe(source, max_pixels=opts.max_pixels, max_seconds=opts.max_seconds)
        fingerprint = self.fingerprint(source)
        t0 = time.perf_counter()
        with self._bar(info, "analyse") as bar:
            analysis = analyse_video(info, self._analyser, opts.analysis, max_seconds=opts.max_seconds,
                                     on_frame=lambda: bar.update(1))
        shots = shots_from_cuts(analysis.cuts, analysis.frame_count)
        plans = [self._plan(info, analysis, shots, ratio) for ratio in opts.ratios]
        analysis_s = time.perf_counter() - t0
        render_s = 0.0
        self.out_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.out_dir)
        with contextlib.ExitStack() as stack:
            if not opts.path_only:
                temps = [stack.enter_context(_temporary(self.paths(source, p.ratio)[1])) for p in plans]
                t1 = time.perf_counter()
                with self._bar(info, "render") as bar:
                    render(info, [p.target(tmp) for p, tmp in zip(plans, temps)], opts.encode,
                           on_frame=lambda: bar.update(1))
                render_s = time.perf_counter() - t1
                for plan, tmp in zip(plans, temps):
                    os.replace(tmp, self.paths(source, plan.ratio)[1])
        # blank keyframes were not predicted on; a video of nothing else ran in the mode it asked for
        asked = self.predictor.resolve_mode(opts.query is not None or opts.query_image is not None)
        mode = analysis_mode(analysis, asked)
        results = []
        for plan in plans:
            json_path, video_path = self.paths(source, plan.ratio)
            record = build_record(info, analysis, plan, shots, mode)
            record.update({
                "output": None if opts.path_only else video_path.name,
                "output_size": list(plan.out_size), "fingerprint": fingerprint,
                "options": opts.to_json(), "versions": self.predictor.versions(mode),
                "timings": {"analysis_s": round(analysis_s, 3), "render_s": round(render_s, 3),
                            **{f"{k}_s": round(v, 3) for k, v in analysis.timings.items()}},
            })
            atomic_write_text(json_path, json.dumps(record, ensure_ascii=False) + "\n")
            results.append(ReframeResult(str(source), plan.ratio, json_path,
                                         None if opts.path_only else video_path, record))
        return results

    def _plan(self, info: VideoInfo, analysis: Analysis, shots: list[tuple[int, int]], ratio: str) -> RatioPlan:
        size = largest_crop_size(info.size, B.parse_aspect_ratio(ratio))
        tracks = frame_tracks(analysis.keyframes, shots, ratio, info.size)
        paths = solve_path(tracks.subject, tracks.framing, shots, size, info.size,
                           info.fps if info.fps > 0 else 25.0, self.options.path, tracks.faces)
        pads = [pad_box(analysis.keyframes, s, e, ratio) if self.options.fit == "pad" else None for s, e in shots]
        return RatioPlan(ratio=ratio, crop_size=size, paths=paths, subject=tracks.subject, pads=pads, shots=shots)

    def _bar(self, info: VideoInfo, desc: str) -> Any:
        from promptcrop.batch.progress import NullBar

        if self.progress is None:
            return NullBar()
        total = info.frame_count or round(info.duration_s * info.fps)
        return self.progress(total=total, desc=f"{Path(info.path).name} {desc}", unit="frame")

    # -------------------------------------------------------------------------- many inputs

    def run_many(self, sources: Sequence[str | os.PathLike[str]],
                 on_result: Callable[[list[ReframeResult]], None] | None = None,
                 on_failure: Callable[[str, str], None] | None = None) -> ReframeSummary:
        """:meth:`run` every input; a bad input is reported (``on_failure(source, reason)``) and
        the run goes on. Unexpected errors (bugs) propagate."""
        summary = ReframeSummary(out_dir=self.out_dir, total=len(sources))
        t0 = time.perf_counter()
        stems: dict[str, str] = {}
        for source in sources:
            try:
                first = stems.setdefault(Path(source).stem, str(source))
                if first != str(source):
                    raise RequestError(f"its outputs would overwrite those of {first} (same file name); "
                                       "reframe it into another folder")
                results = self.run(source)
            except Exception as exc:
                if not (is_user_error(exc) or isinstance(exc, OSError)):
                    raise
                reason = exc.reason if isinstance(exc, VideoError) else failure_reason(exc)
                summary.failed.append((str(source), reason))
                if on_failure is not None:
                    on_failure(str(source), reason)
                continue
            if results and results[0].skipped:
                summary.skipped += 1
            else:
                summary.done += 1
            if on_result is not None:
                on_result(results)
        summary.seconds = time.perf_counter() - t0
        return summary


@dataclass(frozen=True)
class RatioPlan:
    """The solved path of one ratio: per-shot paths and letterbox boxes, the per-frame subject."""

    ratio: str
    crop_size: tuple[int, int]
    paths: list[ShotPath]
    subject: np.ndarray
    pads: list[tuple[np.ndarray, tuple[int, int, int]] | None]
    shots: list[tuple[int, int]]

    @property
    def boxes(self) -> np.ndarray:
        """``[N, 4]`` int xyxy crop of every frame."""
        return np.concatenate([p.boxes for p in self.paths])

    @property
    def out_size(self) -> tuple[int, int]:
        return even_size(self.crop_size)

    def target(self, path: Path) -> RenderTarget:
        """The render target writing this plan's frames to ``path``."""
        boxes = self.boxes
        pad_of_frame = np.zeros(len(boxes), dtype=np.int64) - 1
        for i, ((s, e), pad) in enumerate(zip(self.shots, self.pads)):
            if pad is not None:
                pad_of_frame[s:e] = i
        out_size = self.out_size

        def make_frame(index: int, frame: np.ndarray) -> np.ndarray:
            i = min(index, len(boxes) - 1)  # a render seeing more frames than the analysis holds the last box
            shot = pad_of_frame[i]
            if shot >= 0:
                box, colour = self.pads[shot]  # type: ignore[misc]
                return letterboxed(frame, box, colour, out_size)
            return crop_frame(frame, boxes[i], out_size)

        return RenderTarget(path=path, size=out_size, make_frame=make_frame)


def pad_box(keyframes: Sequence[Keyframe], start: int, end: int, ratio: str) -> tuple[np.ndarray, tuple[int, int, int]] | None:
    """The letterboxed view of a shot whose keyframe framings are mostly padded: the largest
    padded framing, centred on their median centre, in whole pixels as a photo's letterbox
    (:func:`~promptcrop.postprocess.round_letterbox`), and its bar colour; None when not padded."""
    inside = [k for k in keyframes if start <= k.index < end and ratio in k.framing]
    padded = [k for k in inside if k.padded.get(ratio)]
    if not inside or len(padded) <= PAD_MAJORITY * len(inside):
        return None
    boxes = np.stack([k.framing[ratio] for k in padded])
    w = float((boxes[:, 2] - boxes[:, 0]).max())
    h = float((boxes[:, 3] - boxes[:, 1]).max())
    cx = float(np.median((boxes[:, 0] + boxes[:, 2]) / 2))
    cy = float(np.median((boxes[:, 1] + boxes[:, 3]) / 2))
    box = round_letterbox(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]), B.parse_aspect_ratio(ratio))
    return box, padded[0].pad_color.get(ratio) or (0, 0, 0)


def letterboxed(frame: np.ndarray, box: np.ndarray, colour: tuple[int, int, int], out_size: tuple[int, int]) -> np.ndarray:
    """``box`` (xyxy px, may leave the frame) of ``frame`` on bars of ``colour``, resized to ``out_size``."""
    x1, y1, x2, y2 = (int(v) for v in box)
    canvas = Image.new("RGB", (x2 - x1, y2 - y1), tuple(colour))
    canvas.paste(Image.fromarray(frame), (-x1, -y1))
    return np.asarray(canvas.resize(out_size, Image.Resampling.BILINEAR))


def analysis_mode(analysis: Analysis, default: str) -> str:
    """The predictor mode the keyframes ran in (blank ones were not predicted on); ``default`` when
    every keyframe is blank."""
    return next((k.mode for k in analysis.keyframes if not k.blank), default)


def build_record(info: VideoInfo, analysis: Analysis, plan: RatioPlan, shots: Sequence[tuple[int, int]],
                 mode: str) -> dict[str, Any]:
    """The crop-path JSON of one input at one ratio (schema 1; docs/REFRAME.md); ``mode``: the
    predictor mode the keyframes ran in (:func:`analysis_mode`)."""
    W, H = info.size
    shot_entries = []
    for (start, end), path, pad in zip(shots, plan.paths, plan.pads):
        keys = [k for k in analysis.keyframes if start <= k.index < end]
        entry: dict[str, Any] = {
            "start": int(start), "end": int(end), "camera": path.camera,
            "subject": [round(float(v), 1) for v in np.median(plan.subject[start:end], axis=0)],
            "fits": path.fits, "fit": "pad" if pad is not None else "crop",
            "keyframes": [k.index for k in keys if not k.blank],  # the frames the predictor saw
        }
        if pad is not None:
            entry["pad_box"] = [int(v) for v in pad[0]]
        matched = sorted({p for k in keys for p in k.matched})
        if matched:
            entry["matched"] = matched
        notes = sorted({k.fallback for k in keys if k.fallback})
        if notes:
            entry["fallback"] = "; ".join(notes)
        shot_entries.append(entry)
    return {
        "schema": SCHEMA, "input": info.path, "fps": round(float(info.fps), 6),
        "frame_count": int(analysis.frame_count), "size": [W, H], "ratio": plan.ratio,
        "crop_size": list(plan.crop_size), "shots": shot_entries,
        "frames": plan.boxes.tolist(),
        "times": [round(float(t), 6) for t in analysis.times], "rotation": info.rotation,
        "pixel_aspect": f"{info.pixel_aspect.numerator}:{info.pixel_aspect.denominator}",
        "mode": mode,
    }


# ------------------------------------------------------------------------------ files


@contextlib.contextmanager
def _temporary(target: Path) -> Iterator[Path]:
    """A hidden temporary path beside ``target``, removed unless the caller renamed it."""
    tmp = target.with_name(f".{target.name}.{os.urandom(6).hex()}.tmp")
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the temporaries an interrupted run left in ``folder``."""
    for name in os.listdir(folder):
        if _TEMP.match(name) and (f"{VIDEO_SUFFIX}." in name or f"{JSON_SUFFIX}." in name):
            with contextlib.suppress(OSError):
                os.unlink(folder / name)
