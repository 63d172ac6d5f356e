"""The ``promptcrop`` command: outputs and schema, exact ratios, exit codes, ``--json``, manifests,
unwritable output, ``--offline`` without network, query modes on the tiny OWL-ViT, demo, download,
and the real entry point in a subprocess (including a batch killed with SIGKILL and resumed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from image_files import mixed_folder, write_photo
from optional import require
from promptcrop import __version__
from promptcrop.cli import main

RECORD_KEYS = {
    "schema", "input", "image_size", "exif_orientation", "query", "query_image", "mode", "region", "phrases",
    "truncated", "grounding", "fallback", "crops", "overlay", "timings", "versions", "fingerprint",
}
CROP_KEYS = {"rank", "ratio", "box", "score", "size", "file", "fits", "padded"}


def _json_files(out: Path) -> dict[str, dict]:
    return {p.relative_to(out).as_posix(): json.loads(p.read_text()) for p in sorted(out.rglob("*.json"))}


def _check_crop_files(folder: Path, record: dict, aspects: dict[str, float]) -> None:
    """Every crop file exists with the recorded size, and its ratio is exact to 1 px."""
    W, H = record["image_size"]
    for crop in record["crops"]:
        assert set(crop) >= CROP_KEYS
        x1, y1, x2, y2 = crop["box"]
        assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H
        with Image.open(folder / crop["file"]) as im:
            assert list(im.size) == crop["size"] == [x2 - x1, y2 - y1]
        w, h = crop["size"]
        assert abs(w - h * aspects[crop["ratio"]]) <= max(1.0, aspects[crop["ratio"]]), crop
        stem = Path(record["input"]).stem
        assert crop["file"] == f"{stem}.{crop['rank']}.{w}x{h}{Path(crop['file']).suffix}"


# --------------------------------------------------------------------------- crop, offline mode


def test_crop_offline_writes_crops_and_records(tmp_path, capsys):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    a = write_photo(tmp_path / "a.jpg", 160, 100, icc=icc)
    b = write_photo(tmp_path / "b.png", 90, 120, seed=3)
    out = tmp_path / "out"
    code = main(["crop", str(a), str(b), "-a", "1:1", "-a", "4:5", "-a", "16:9", "-k", "2", "-o", str(out),
                 "--offline", "--overlay", "--quiet"])
    assert code == 0
    records = _json_files(out)
    assert sorted(records) == ["a.json", "b.json"]
    for name, rec in records.items():
        assert set(rec) == RECORD_KEYS and rec["mode"] == "offline" and rec["schema"] == 1
        assert rec["versions"] == {"promptcrop": __version__, "model": None, "decoder": None}
        assert {c["ratio"] for c in rec["crops"]} == {"1:1", "4:5", "16:9"}
        for ratio in ("1:1", "4:5", "16:9"):
            assert [c["rank"] for c in rec["crops"] if c["ratio"] == ratio] in ([1], [1, 2])
        _check_crop_files(out, rec, {"1:1": 1.0, "4:5": 0.8, "16:9": 16 / 9})
        assert (out / rec["overlay"]).is_file() and "explain" not in rec["crops"][0]
    assert records["a.json"]["input"] == str(a) and records["a.json"]["image_size"] == [160, 100]
    with Image.open(out / records["a.json"]["crops"][0]["file"]) as im:
        assert im.format == "JPEG" and im.info.get("icc_profile") == icc
    with Image.open(out / records["b.json"]["crops"][0]["file"]) as im:
        assert im.format == "PNG"
    stdout = capsys.readouterr().out
    assert "a.jpg" in stdout and "2 inputs: 2 cropped" in stdout


def test_crop_default_ratio_size_pad_and_explain(tmp_path, monkeypatch):
    a = write_photo(tmp_path / "a.png", 150, 100)
    monkeypatch.chdir(tmp_path)
    assert main(["crop", str(a), "-k", "1", "--offline", "--explain", "--quiet"]) == 0
    rec = _json_files(tmp_path / "promptcrop-out")["a.json"]  # the documented default folder
    assert rec["crops"][0]["ratio"] == "original" and rec["crops"][0]["explain"]
    _check_crop_files(tmp_path / "promptcrop-out", rec, {"original": 1.5})

    assert main(["crop", str(a), "--size", "64x48", "-k", "2", "-o", "sized", "--offline", "--quiet"]) == 0
    rec = _json_files(tmp_path / "sized")["a.json"]
    for crop in rec["crops"]:
        assert crop["size"] == [64, 48] and crop["ratio"] == "64x48"
        with Image.open(tmp_path / "sized" / crop["file"]) as im:
            assert im.size == (64, 48)

    assert main(["crop", str(a), "-a", "1:3", "--fit", "pad", "-k", "1", "-o", "pad", "--offline", "--quiet"]) == 0
    crop = _json_files(tmp_path / "pad")["a.json"]["crops"][0]
    w, h = crop["size"]
    assert abs(w * 3 - h) <= 3
    assert (tmp_path / "pad" / crop["file"]).is_file()


def test_json_prints_only_records_on_stdout(tmp_path, capsys):
    paths = [str(write_photo(tmp_path / f"{n}.png", seed=i)) for i, n in enumerate("xyz")]
    (tmp_path / "bad.png").write_bytes(b"")
    code = main(["crop", *paths, str(tmp_path / "bad.png"), "-k", "1", "-o", str(tmp_path / "o"),
                 "--offline", "--json", "--quiet"])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert code == 1 and len(lines) == 3
    assert [Path(json.loads(line)["input"]).name for line in lines] == ["x.png", "y.png", "z.png"]
    assert f"promptcrop: error: {tmp_path / 'bad.png'}: empty file" in captured.err
    assert "Traceback" not in captured.err and "1 failed" in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["crop", "IMG", "-a", "16:0"],
        ["crop", "IMG", "-a", "1:1", "--size", "10x10"],
        ["crop", "IMG", "--size", "10by10"],
        ["crop", "IMG", "--focus", "1,2,3"],
        ["crop", "IMG", "-k", "0"],
        ["crop", "IMG", "-q", "x", "--query-image", "IMG"],
        ["crop", "IMG", "--fit", "stretch"],
        ["crop", "IMG", "--device", "tpu"],
        ["batch", "IMG"],  # -o is required
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, argv):
    img = str(write_photo(tmp_path / "a.png"))
    argv = [img if a == "IMG" else a for a in argv]
    extra = ["--offline", "-o", str(tmp_path / "o")] if argv and argv[0] == "crop" else []
    assert main(argv + extra) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_help_and_version_exit_0(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    for command in ("crop", "batch", "demo", "download", "train", "finetune-encoder", "eval", "serve", "export-onnx",
                    "reframe"):
        assert main([command, "--help"]) == 0, command


# --------------------------------------------------------------------------- batch


def test_batch_folder_mixed_inputs(tmp_path, capsys):
    outcome = mixed_folder(tmp_path / "in")
    out = tmp_path / "out"
    code = main(["batch", str(tmp_path / "in"), "-o", str(out), "-a", "1:1", "-k", "1", "--offline", "--quiet"])
    assert code == 1
    ok = [n for n, w in outcome.items() if w == "ok"]
    assert sorted(_json_files(out)) == sorted(n.rsplit(".", 1)[0] + ".json" for n in ok)
    assert (out / "good.json").is_file() and (out / "sub" / "good.json").is_file()
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("promptcrop: error: ")]
    assert len(errors) == sum(w == "fail" for w in outcome.values())
    assert "Traceback" not in captured.err
    assert captured.out.strip().splitlines()[-1].startswith(f"promptcrop: {len(ok) + len(errors)} inputs:")


def test_batch_manifest_with_bad_rows(tmp_path, capsys):
    write_photo(tmp_path / "a.jpg")
    write_photo(tmp_path / "b.png", seed=2)
    (tmp_path / "m.jsonl").write_text("\n".join([
        json.dumps({"image": "a.jpg", "aspect": "4:5"}),
        json.dumps({"image": "b.png"}),
        json.dumps({"image": "missing.jpg"}),
        "not json",
        json.dumps({"image": "b.png", "aspect": "wide"}),
    ]) + "\n")
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "m.jsonl"), "-o", str(out), "-k", "1", "--offline", "--quiet"]) == 1
    records = _json_files(out)
    assert sorted(records) == ["a.json", "b.json"]
    assert records["a.json"]["crops"][0]["ratio"] == "4:5"
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["input"].split(" ")[0] for e in errors) == ["m.jsonl:3", "m.jsonl:4", "m.jsonl:5"]
    assert "1:0" not in capsys.readouterr().err


def test_batch_input_that_is_neither_folder_nor_manifest(tmp_path, capsys):
    write_photo(tmp_path / "a.png")
    assert main(["batch", str(tmp_path / "a.png"), "-o", str(tmp_path / "o")]) == 2
    assert main(["batch", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 1
    (tmp_path / "empty").mkdir()
    assert main(["batch", str(tmp_path / "empty"), "-o", str(tmp_path / "o"), "--offline"]) == 1
    assert "no image files" in capsys.readouterr().err


def test_output_folder_not_writable(tmp_path, capsys):
    a = write_photo(tmp_path / "a.png")
    (tmp_path / "blocker").write_text("a file where a folder should be")
    assert main(["crop", str(a), "-o", str(tmp_path / "blocker" / "out"), "--offline", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("promptcrop: error: cannot write to the output folder")


# --------------------------------------------------------------------------- offline / models


def test_offline_makes_no_network_call(tmp_path, no_network, tiny_owlvit_dir, capsys):
    a = write_photo(tmp_path / "a.png")
    assert main(["crop", str(a), "-o", str(tmp_path / "o1"), "--offline", "-k", "1", "--quiet"]) == 0
    assert _json_files(tmp_path / "o1")["a.json"]["mode"] == "offline"
    # a query with weights in a local directory: fine offline
    assert main(["crop", str(a), "-q", "the red square", "--model", str(tiny_owlvit_dir), "-o",
                 str(tmp_path / "o2"), "--offline", "-k", "1", "--quiet"]) == 0
    # a query with a hub model that is not cached: one clear error, no network
    capsys.readouterr()
    code = main(["crop", str(a), "-q", "the red square", "--model", "nobody/not-cached-owlvit", "-o",
                 str(tmp_path / "o3"), "--offline", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "promptcrop download" in err[0] and "not available" in err[0]
    assert not (tmp_path / "o3").exists()


def test_text_query_zeroshot_on_tiny_model(tmp_path, tiny_owlvit_dir):
    a = write_photo(tmp_path / "a.jpg", 128, 96)
    out = tmp_path / "o"
    assert main(["crop", str(a), "-q", "the red square on the left", "--model", str(tiny_owlvit_dir),
                 "-a", "3:2", "-k", "2", "-o", str(out), "--overlay", "--explain", "--quiet"]) == 0
    rec = _json_files(out)["a.json"]
    assert rec["mode"] == "zeroshot" and rec["query"] == "the red square on the left"
    assert rec["phrases"] and rec["grounding"] and {"phrase", "box", "logit"} <= set(rec["grounding"][0])
    assert rec["versions"]["model"] == str(tiny_owlvit_dir)
    _check_crop_files(out, rec, {"3:2": 1.5})
    assert (out / "a.overlay.png").is_file()


def test_manifest_queries_and_query_image_on_tiny_model(tmp_path, tiny_owlvit_dir):
    write_photo(tmp_path / "a.jpg")
    (tmp_path / "m.csv").write_text("image,query\na.jpg,the red square\na.jpg,the background\n")
    out = tmp_path / "o"
    assert main(["batch", str(tmp_path / "m.csv"), "-o", str(out), "--model", str(tiny_owlvit_dir), "-k", "1",
                 "--offline", "--quiet"]) == 0
    queries = sorted(r["query"] for r in _json_files(out).values())
    assert queries == ["the background", "the red square"]
    example = write_photo(tmp_path / "example.png", 40, 40, seed=7)
    assert main(["crop", str(tmp_path / "a.jpg"), "--query-image", str(example), "--model", str(tiny_owlvit_dir),
                 "-o", str(tmp_path / "qi"), "-k", "1", "--offline", "--quiet"]) == 0
    rec = _json_files(tmp_path / "qi")["a.json"]
    assert rec["query_image"] == str(example) and rec["mode"] == "zeroshot"


# --------------------------------------------------------------------------- demo and download


def test_demo_offline_part_and_the_hint_line(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "-k", "1", "--model", str(tmp_path / "no-model"), "--quiet"]) == 0
    stdout = capsys.readouterr().out
    assert "promptcrop download" in stdout and str(out.resolve()) in stdout
    records = _json_files(out)
    assert records and all(name.startswith("offline/") for name in records)
    assert "offline/astronaut.json" in records
    for rec in records.values():
        assert {c["ratio"] for c in rec["crops"]} == {"1:1", "4:5", "16:9"}
        assert (out / "offline" / rec["overlay"]).is_file()


def test_demo_text_part_with_local_weights(tmp_path, tiny_owlvit_dir, capsys, monkeypatch):
    monkeypatch.setattr("promptcrop.cli.demo.DEMO_PHOTOS", ("chelsea.png",))
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "-k", "1", "--model", str(tiny_owlvit_dir), "--quiet"]) == 0
    assert "promptcrop download" not in capsys.readouterr().out
    rec = _json_files(out)["text/chelsea-the-cat.json"]
    assert rec["query"] == "the cat" and rec["mode"] == "zeroshot"


def test_download_refuses_clearly_when_offline(capsys):
    assert main(["download", "google/owlvit-base-patch32"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot download" in err[0] and "HF_HUB_OFFLINE" in err[0]


# --------------------------------------------------------------------------- the real entry point


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "promptcrop.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def test_subprocess_exit_codes_and_clean_errors(tmp_path):
    good = write_photo(tmp_path / "good.png")
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    run = subprocess.run(
        _cli("crop", str(good), str(tmp_path / "bad.jpg"), "-o", str(tmp_path / "o"), "-k", "1", "--offline",
             "--json"),
        capture_output=True, text=True, env=_env(), timeout=120, cwd=tmp_path,
    )
    assert run.returncode == 1, run.stderr
    assert [json.loads(line)["input"] for line in run.stdout.splitlines()] == [str(good)]
    assert f"promptcrop: error: {tmp_path / 'bad.jpg'}: " in run.stderr and "Traceback" not in run.stderr
    usage = subprocess.run(_cli("crop", str(good), "-a", "0:1"), capture_output=True, text=True,
                           env=_env(), timeout=120, cwd=tmp_path)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_batch_killed_midway_resumes_to_identical_outputs(tmp_path, capsys):
    for i in range(12):
        write_photo(tmp_path / "in" / f"p{i}.png", 200, 140, seed=i)
    args = ["-a", "1:1", "-a", "16:9", "-k", "2", "--offline", "--overlay", "--prefetch", "1", "--quiet"]
    reference = tmp_path / "reference"
    assert main(["batch", str(tmp_path / "in"), "-o", str(reference), *args]) == 0

    out = tmp_path / "out"
    proc = subprocess.Popen(_cli("batch", str(tmp_path / "in"), "-o", str(out), *args),
                            env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(out.glob("*.json")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = len(list(out.glob("*.json")))
    assert done_before < 12, "the batch finished before it could be killed: use more or larger inputs"

    capsys.readouterr()
    assert main(["batch", str(tmp_path / "in"), "-o", str(out), *args]) == 0
    assert f"{done_before} already done" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left
    for name in sorted(p.name for p in reference.iterdir()):
        if name.endswith(".json"):
            ref, got = json.loads((reference / name).read_text()), json.loads((out / name).read_text())
            ref.pop("timings"), got.pop("timings")
            assert got == ref, name
        else:
            assert (out / name).read_bytes() == (reference / name).read_bytes(), name


# --------------------------------------------------------------------------- start-up cost

HEAVY = ("torch", "transformers", "spacy")
#: What a one-photo offline crop has no use for: the model stack, scikit-image and SciPy (the
#: saliency has its own NumPy versions), a progress bar for one image, NumPy's masked arrays,
#: manifests (CSV, Parquet), drawing, the service and Ray. Each import is a share of its start.
NOT_FOR_ONE_OFFLINE_PHOTO = (
    *HEAVY, "huggingface_hub", "onnxruntime", "scipy", "skimage", "tqdm", "numpy.ma", "csv", "pyarrow",
    "PIL.ImageDraw", "PIL.ImageFont", "fastapi", "ray", "asyncio", "multiprocessing", "urllib.request", "hashlib",
)


def _heavy_modules_after(argv: list[str], cwd: Path, modules: Sequence[str] = HEAVY) -> tuple[int, list[str]]:
    """Run ``main(argv)`` in a fresh interpreter; its exit code and which of ``modules`` it imported."""
    code = (
        "import json, sys\n"
        "from promptcrop.cli import main\n"
        f"code = main({argv!r})\n"
        f"print(json.dumps([code, [m for m in {tuple(modules)!r} if m in sys.modules]]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=cwd,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    exit_code, heavy = json.loads(run.stdout.strip().splitlines()[-1])
    return exit_code, heavy


def test_help_and_usage_errors_import_no_model_code(tmp_path):
    for argv in (["--help"], ["crop", "--help"], ["batch", "--help"], ["frobnicate"], ["crop", "x.jpg", "-k", "0"],
                 ["train", "--help"], ["finetune-encoder", "--help"], ["train"], ["eval", "--help"],
                 ["eval", "--dataset", "nope"], ["serve", "--help"], ["export-onnx", "--help"], ["reframe", "--help"],
                 ["reframe", "x.mp4", "--crf", "99"]):
        exit_code, heavy = _heavy_modules_after(argv, tmp_path)
        assert exit_code in (0, 2) and heavy == [], (argv, heavy)


def test_a_one_photo_offline_crop_imports_nothing_it_has_no_use_for(tmp_path):
    photo = write_photo(tmp_path / "photo.jpg", 300, 200)
    exit_code, imported = _heavy_modules_after(
        ["crop", str(photo), "--offline", "-a", "1:1", "-k", "1", "-o", str(tmp_path / "out"), "--quiet"], tmp_path,
        NOT_FOR_ONE_OFFLINE_PHOTO,
    )
    assert exit_code == 0 and (tmp_path / "out" / "photo.json").is_file()
    assert imported == [], imported


@pytest.mark.parametrize("extra, prebuilt", [
    ([], True), (["--query", "a cup"], False), (["--exclude", "text"], False), (["--decoder", "nope"], False),
])
def test_a_weight_free_crop_starts_building_the_detectors_before_its_imports(tmp_path, monkeypatch, extra, prebuilt):
    import importlib

    from promptcrop.cli import build_parser
    from promptcrop.saliency import litert_c

    cli_main = importlib.import_module("promptcrop.cli.main")  # the module (the package exports its main())
    args = build_parser().parse_args(["crop", "x.jpg", "--offline", *extra])
    assert cli_main._weight_free(args) is prebuilt
    assert not cli_main._weight_free(build_parser().parse_args(["crop", "x.jpg"]))
    if prebuilt:
        calls = []
        monkeypatch.setattr(litert_c, "prebuild_detectors", lambda: calls.append(1))
        photo = write_photo(tmp_path / "photo.jpg", 120, 90)
        assert main(["crop", str(photo), "--offline", "-a", "1:1", "-k", "1", "-o", str(tmp_path / "out"),
                     "--quiet"]) == 0
        assert calls == [1]


def test_offline_reframe_imports_neither_torch_nor_transformers(tmp_path):
    require("av")
    require("scenedetect")
    from video_files import cut_clip

    clip, _ = cut_clip(tmp_path / "clip.mp4", frames=12)
    exit_code, heavy = _heavy_modules_after(
        ["reframe", str(clip), "--offline", "--path-only", "-o", str(tmp_path / "out"), "--quiet"], tmp_path)
    assert exit_code == 0 and (tmp_path / "out" / "clip.9x16.reframe.json").is_file()
    assert "torch" not in heavy and "transformers" not in heavy, heavy


def test_the_command_list_is_the_same_with_every_command_built():
    from promptcrop.cli import build_parser

    assert build_parser(complete=()).format_help() == build_parser().format_help()


def test_python_m_runs_the_importable_module_so_command_modules_usage_errors_are_recognised(tmp_path):
    require("uvicorn")
    require("fastapi")
    run = subprocess.run(_cli("serve", "--offline", "--max-upload-mb", "-3"), capture_output=True, text=True,
                         env=_env(), cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("promptcrop: error: ")


def test_exclude_on_the_tiny_model_and_its_offline_error(tmp_path, tiny_owlvit_dir, no_network, capsys):
    a = write_photo(tmp_path / "a.png")
    out = tmp_path / "o"
    assert main(["crop", str(a), "--exclude", "the watermark", "--exclude", "the man on the left",
                 "--model", str(tiny_owlvit_dir), "-a", "1:1", "-k", "2", "-o", str(out), "--quiet"]) == 0
    rec = _json_files(out)["a.json"]
    assert rec["mode"] == "zeroshot" and rec["crops"]
    capsys.readouterr()
    code = main(["crop", str(a), "--exclude", "the watermark", "--offline", "-o", str(tmp_path / "o2"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("promptcrop: error: exclude needs the OWL-ViT weights")
    assert not (tmp_path / "o2").exists()


def test_manifest_exclude_rows_on_the_tiny_model_and_without_weights(tmp_path, tiny_owlvit_dir, no_network, capsys):
    from promptcrop.predictor import Predictor

    a = write_photo(tmp_path / "a.png")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"image": "a.png", "exclude": ["the watermark", "the man on the left"]}) + "\n")
    out = tmp_path / "o"
    assert main(["batch", str(manifest), "--model", str(tiny_owlvit_dir), "-a", "1:1", "-k", "2",
                 "-o", str(out), "--quiet"]) == 0
    rec = _json_files(out)["a.json"]
    expected = Predictor(model=str(tiny_owlvit_dir)).predict(
        str(a), aspect="1:1", k=2, exclude=["the watermark", "the man on the left"])
    assert rec["mode"] == "zeroshot" and [c["box"] for c in rec["crops"]] == [list(c.box) for c in expected]
    capsys.readouterr()
    code = main(["batch", str(manifest), "--offline", "-o", str(tmp_path / "o2"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "exclude needs the OWL-ViT weights" in err[0]
