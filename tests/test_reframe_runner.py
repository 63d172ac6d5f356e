"""``promptcrop reframe`` end to end: the crop-path JSON schema, outputs, resumability, atomic
writes, and a hostile corpus of inputs (each a one-line error or a correct output)."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from optional import require

av = require("av")
require("scenedetect")

from promptcrop.cli import main  # noqa: E402
from promptcrop.predictor import Predictor  # noqa: E402
from promptcrop.reframe.runner import ReframeOptions, Reframer, file_label  # noqa: E402
from promptcrop.reframe.subjects import AnalysisConfig  # noqa: E402
from video_files import cut_clip, hostile_corpus  # noqa: E402

SHOT = 12  # frames per shot of the test clip (cuts at 12 and 24)
SCHEMA_KEYS = {"schema", "input", "fps", "frame_count", "size", "ratio", "crop_size", "shots", "frames"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = cut_clip(tmp_path_factory.mktemp("clip") / "talk.mp4", frames=SHOT)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hostile_corpus(tmp_path_factory.mktemp("hostile"))


def _check_record(record: dict, *, frames: int, size: tuple[int, int], ratio: str) -> None:
    assert SCHEMA_KEYS <= set(record)
    assert record["schema"] == 1 and isinstance(record["input"], str)
    assert isinstance(record["fps"], float) and record["fps"] > 0
    assert record["frame_count"] == frames == len(record["frames"])
    assert record["size"] == list(size) and record["ratio"] == ratio
    w, h = record["crop_size"]
    W, H = size
    num, den = (float(v) for v in ratio.split(":"))
    assert (w == W or h == H) and abs(w / h - num / den) <= 1 / min(w, h) + 1e-9
    boxes = np.asarray(record["frames"])
    assert boxes.shape == (frames, 4) and boxes.dtype.kind == "i"
    assert np.all(np.abs(boxes[:, 2] - boxes[:, 0] - w) <= 1) and np.all(np.abs(boxes[:, 3] - boxes[:, 1] - h) <= 1)
    assert boxes[:, :2].min() >= 0 and boxes[:, 2].max() <= W and boxes[:, 3].max() <= H
    shots = record["shots"]
    assert shots[0]["start"] == 0 and shots[-1]["end"] == frames
    assert all(a["end"] == b["start"] for a, b in zip(shots, shots[1:]))
    assert all(s["camera"] in ("stationary", "pan", "track") for s in shots)


def test_cli_writes_video_and_json_per_ratio(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    code = main(["reframe", str(clip), "-a", "9:16", "-a", "1:1", "-o", str(out), "--offline", "--quiet"])
    assert code == 0, capsys.readouterr().err
    for ratio in ("9:16", "1:1"):
        label = file_label(ratio)
        record = json.loads((out / f"talk.{label}.reframe.json").read_text())
        _check_record(record, frames=3 * SHOT, size=(160, 90), ratio=ratio)
        assert [s["start"] for s in record["shots"]] == [0, SHOT, 2 * SHOT]
        with av.open(str(out / f"talk.{label}.mp4")) as c:
            v = c.streams.video[0]
            assert (v.width % 2, v.height % 2) == (0, 0)
            assert abs(v.width - record["crop_size"][0]) <= 1 and abs(v.height - record["crop_size"][1]) <= 1
            assert v.frames == 3 * SHOT and c.streams.audio
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]


def test_path_only_writes_no_video_and_a_rerun_skips(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    args = ["reframe", str(clip), "-o", str(out), "--offline", "--path-only", "--quiet"]
    assert main(args) == 0
    json_path = out / "talk.9x16.reframe.json"
    assert json_path.is_file() and not (out / "talk.9x16.mp4").exists()
    stamp = json_path.stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "already done" in capsys.readouterr().out
    assert json_path.stat().st_mtime_ns == stamp
    assert main([*args, "--keyframe-rate", "2"]) == 0  # other options: redone
    assert json_path.stat().st_mtime_ns != stamp


def test_a_killed_render_leaves_no_file_and_the_next_run_finishes(clip: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from promptcrop.reframe import runner

    out = tmp_path / "out"
    reframer = Reframer(Predictor(model=None, mode="offline"), ReframeOptions(), out)

    def killed(*args: object, **kwargs: object) -> int:
        targets = args[1]
        for t in targets:
            t.path.write_bytes(b"half a video")
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "render", killed)
    with pytest.raises(KeyboardInterrupt):
        reframer.run(clip)
    assert os.listdir(out) == []
    (out / ".talk.9x16.mp4.0123456789ab.tmp").write_bytes(b"left by a killed process")
    monkeypatch.undo()
    results = reframer.run(clip)
    assert results[0].video_path.is_file() and not results[0].skipped
    assert sorted(os.listdir(out)) == ["talk.9x16.mp4", "talk.9x16.reframe.json"]
    assert reframer.run(clip)[0].skipped


def test_python_api_record_matches_the_schema(clip: Path, tmp_path: Path) -> None:
    reframer = Reframer(Predictor(model=None, mode="offline"), ReframeOptions(ratios=("4:5",), path_only=True), tmp_path)
    [result] = reframer.run(clip)
    _check_record(result.record, frames=3 * SHOT, size=(160, 90), ratio="4:5")
    assert result.record["mode"] == "offline" and result.video_path is None
    assert all("keyframes" in s and s["keyframes"][0] == s["start"] for s in result.record["shots"])


EXPECTED = {  # input -> None (a correct output) or the words of its one-line error
    "good": None,
    "truncated": "not a readable video",
    "header_only": "not a readable video",
    "empty_file": "not a readable video",
    "wrong_extension_image": None,  # FFmpeg reads a PNG as a one-frame video: reframed
    "video_named_txt": None,
    "text": "not a readable video",
    "audio_only": "no video stream",
    "zero_frames": "no video stream",
    "one_frame": None,
    "wide_10000x10": "too thin to reframe",
    "rotated": None,
    "anamorphic": None,
}


def test_hostile_corpus_one_line_errors_or_correct_outputs(corpus: dict[str, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    assert set(corpus) == set(EXPECTED)
    out = tmp_path / "out"
    code = main(["reframe", *map(str, corpus.values()), "-o", str(out), "--offline", "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    errors = captured.err.strip().splitlines()
    for name, path in corpus.items():
        lines = [line for line in errors if line.startswith(f"promptcrop: error: {path}: ")]
        if EXPECTED[name] is None:
            assert not lines, (name, lines)
            record = json.loads((out / f"{path.stem}.9x16.reframe.json").read_text())
            with av.open(str(path)) as c:
                n = sum(1 for _ in c.decode(video=0))
            size = tuple(record["size"])
            _check_record(record, frames=n, size=size, ratio="9:16")
            assert (out / f"{path.stem}.9x16.mp4").is_file()
        else:
            assert len(lines) == 1 and EXPECTED[name] in lines[0], (name, errors)
            assert not list(out.glob(f"{path.stem}.*"))
    assert len(errors) == sum(v is not None for v in EXPECTED.values())
    rotated = json.loads((out / "rotated.9x16.reframe.json").read_text())
    assert rotated["size"] == [90, 160] and rotated["rotation"] == 90 and rotated["pixel_aspect"] == "1:1"
    # an anamorphic input: the crop is 9:16 of its pixels, and the output's pixels keep their shape
    anamorphic = json.loads((out / "anamorphic.9x16.reframe.json").read_text())
    assert anamorphic["pixel_aspect"] == "16:15" and anamorphic["size"] == [160, 90]
    assert anamorphic["crop_size"] == [51, 90] and anamorphic["output_size"] == [50, 90]
    with av.open(str(out / "anamorphic.9x16.mp4")) as c:
        assert c.streams.video[0].sample_aspect_ratio == Fraction(16, 15)
    with av.open(str(out / "rotated.9x16.mp4")) as c:
        assert c.streams.video[0].sample_aspect_ratio in (None, Fraction(1))


@pytest.mark.parametrize("argv, words", [
    (["--max-pixels", "100"], "pixels, above the limit"),
    (["--max-seconds", "0.5"], "above the limit of 0.5 s"),
])
def test_limits_are_one_line_errors(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                    argv: list[str], words: str) -> None:
    code = main(["reframe", str(clip), "-o", str(tmp_path), "--offline", "--quiet", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and words in err[0]


@pytest.mark.parametrize("argv, words", [
    (["-a", "0:1"], "ratio"),
    (["--crf", "99"], "crf"),
    (["--codec", "no-such-codec"], "unknown video encoder"),
])
def test_bad_options_are_usage_errors(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                      argv: list[str], words: str) -> None:
    code = main(["reframe", str(clip), "-o", str(tmp_path), "--offline", "--quiet", *argv])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err


def test_a_query_without_weights_is_one_line(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["reframe", str(clip), "-o", str(tmp_path), "--offline", "-q", "the guitarist",
                 "--model", str(tmp_path / "no-weights"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "Traceback" not in err[0]


def test_query_mode_follows_through_the_predictor(clip: Path, tmp_path: Path, tiny_owlvit_dir: Path) -> None:
    """A text query runs OWL-ViT on the keyframes (tiny random weights: the path is valid, the
    match itself means nothing) and the JSON says what the query matched."""
    options = ReframeOptions(query="a person", path_only=True, analysis=AnalysisConfig(keyframe_rate=1.0))
    predictor = Predictor(model=str(tiny_owlvit_dir), local_files_only=True)
    [result] = Reframer(predictor, options, tmp_path).run(clip)
    _check_record(result.record, frames=3 * SHOT, size=(160, 90), ratio="9:16")
    assert result.record["mode"] == "zeroshot"


def test_inputs_with_the_same_name_do_not_overwrite_each_other(clip: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    twin = tmp_path / "elsewhere" / clip.name
    twin.parent.mkdir()
    twin.write_bytes(clip.read_bytes())
    code = main(["reframe", str(clip), str(twin), "-o", str(tmp_path / "out"), "--offline", "--path-only", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and str(twin) in err[0] and "same file name" in err[0]
    assert json.loads((tmp_path / "out" / "talk.9x16.reframe.json").read_text())["input"] == str(clip)


def test_fit_pad_letterboxes_a_subject_wider_than_the_ratio(tmp_path: Path) -> None:
    from promptcrop.reframe.synthetic import View, virtual_camera, write_clip
    from video_files import photo

    shot = virtual_camera(photo("coffee"), (75, 15, 480, 385), [], start=View(300, 200, 340), end=View(300, 200, 340),
                          n_frames=15, size=(160, 90))
    clip = write_clip(tmp_path / "cup.mp4", shot.frames, 25.0, audio_s=0.6)
    options = ReframeOptions(fit="pad")
    [result] = Reframer(Predictor(model=None, mode="offline"), options, tmp_path / "out").run(clip)
    [entry] = result.record["shots"]
    assert entry["fit"] == "pad" and not entry["fits"]
    x1, y1, x2, y2 = entry["pad_box"]
    assert abs((x2 - x1) / (y2 - y1) - 9 / 16) < 0.02 and (y1 < 0 or y2 > 90)
    _check_record(result.record, frames=15, size=(160, 90), ratio="9:16")  # the crop path is still given
    with av.open(str(result.video_path)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    assert first[:3].std(axis=(0, 1)).max() < 6  # a flat bar above the picture


def test_a_black_video_is_cropped_in_the_middle_in_the_mode_asked_for(tmp_path: Path, tiny_owlvit_dir: Path) -> None:
    """Blank frames are not predicted on: no keyframe is listed, the crop is the middle of the
    frame, and the record names the mode the query would have run in."""
    from promptcrop.reframe.synthetic import write_clip

    black = write_clip(tmp_path / "black.mp4", np.zeros((12, 90, 160, 3), np.uint8), 25.0)
    options = ReframeOptions(query="a person", path_only=True)
    predictor = Predictor(model=str(tiny_owlvit_dir), local_files_only=True)
    [result] = Reframer(predictor, options, tmp_path / "out").run(black)
    record = result.record
    assert record["mode"] == "zeroshot" and [s["keyframes"] for s in record["shots"]] == [[]]
    x1, _, x2, _ = record["frames"][0]
    assert abs((x1 + x2) / 2 - 80) <= 1
