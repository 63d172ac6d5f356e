"""``promptcrop export-onnx`` and the Predictor on the ONNX backend (tiny random weights): the same
crops as PyTorch in float32, int8 end to end with its check report, the fidelity gate, and the
one-line errors of the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from onnx_exports import fp32_export, onnx_root, tiny_decoder_ckpt  # noqa: F401  (fixtures)
from optional import require
from promptcrop.cli import main
from promptcrop.errors import CheckpointError, RequestError
from promptcrop.predictor import Predictor

require("onnxruntime")

from promptcrop.backends.export import ExportConfig, ExportError, compare, export_onnx  # noqa: E402
from promptcrop.backends.onnx import INSTALL_HINT, read_manifest  # noqa: E402

CHECK_FIELDS = {"features_cosine", "grounded_token_agreement", "phrases", "top1_iou", "mode", "photo"}


def _photo_array(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = (rng.random((180, 260, 3)) * 120 + 60).astype(np.uint8)
    img[40:110, 150:230] = (230, 40, 30)
    return img


def _photo(path: Path, seed: int) -> Path:
    from PIL import Image

    Image.fromarray(_photo_array(seed)).save(path)
    return path


@pytest.fixture(scope="module")
def int8_run(onnx_root, tiny_owlvit_dir, tiny_decoder_ckpt):  # noqa: F811
    """``export-onnx --int8 --check`` through the command line, its exit code and JSON report."""
    import contextlib
    import io

    photos = [str(_photo(onnx_root / f"check{i}.png", i)) for i in range(2)]
    out = onnx_root / "int8-cli"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main([
            "export-onnx", "--model", str(tiny_owlvit_dir), "--decoder", str(tiny_decoder_ckpt), "--out", str(out),
            "--int8", "--check", *photos, "--check-query", "the red box", "--json", "--offline",
        ])
    return code, out, stdout.getvalue().splitlines(), photos


@pytest.mark.parametrize("query", [None, "the red box"])
def test_fp32_onnx_predictor_gives_the_same_crops(fp32_export, tiny_owlvit_dir, tiny_decoder_ckpt, query):  # noqa: F811
    image = _photo_array(3)
    kwargs = dict(model=str(tiny_owlvit_dir), decoder=str(tiny_decoder_ckpt), local_files_only=True)
    ref = Predictor(**kwargs).predict(image, query=query, k=3, aspect=["1:1", "16:9"])
    onnx = Predictor(**kwargs, backend="onnx", onnx_dir=fp32_export)
    got = onnx.predict(image, query=query, k=3, aspect=["1:1", "16:9"])
    assert onnx.info()["backend"] == "onnx"
    assert got.mode == ref.mode == "clipcrop"
    assert [c.box for c in got.crops] == [c.box for c in ref.crops] and len(got.crops) >= 2
    assert np.allclose([c.score for c in got.crops], [c.score for c in ref.crops], atol=1e-4)
    assert got.region == pytest.approx(ref.region, abs=1e-3)


def test_fp32_onnx_zeroshot_and_query_image_give_the_same_crops(fp32_export, tiny_owlvit_dir):  # noqa: F811
    image, example = _photo_array(4), _photo_array(5)[20:100, 100:200]
    ref = Predictor(model=str(tiny_owlvit_dir), local_files_only=True)
    onnx = Predictor(model=str(tiny_owlvit_dir), backend="onnx", onnx_dir=fp32_export)
    for kwargs in ({"query": "the red box"}, {"query_image": example}, {}):
        a, b = ref.predict(image, k=2, **kwargs), onnx.predict(image, k=2, **kwargs)
        assert b.mode == a.mode == "zeroshot"
        assert [c.box for c in b.crops] == [c.box for c in a.crops]


def test_int8_export_runs_end_to_end_with_a_full_check_report(int8_run, tiny_owlvit_dir, tiny_decoder_ckpt):  # noqa: F811
    code, out, lines, photos = int8_run
    assert code == 0
    assert any(line.startswith("int8 vs PyTorch image: tokens max|diff|=") for line in lines)
    assert any(line.startswith(f"wrote {out}:") and "int8-dynamic" in line for line in lines)
    report = json.loads(lines[-1])
    assert report["quantization"] == "int8-dynamic" and report["reference"] == "pytorch-float32"
    assert report["query"] == "the red box" and len(report["photos"]) == 2
    for figure in ("features_cosine", "grounded_token_agreement", "top1_iou"):
        for stat in ("mean", "min"):
            assert 0.0 <= report[f"{figure}_{stat}"] <= 1.0 + 1e-9
    for photo, path in zip(report["photos"], photos):
        assert set(photo) == CHECK_FIELDS and photo["photo"] == path and photo["mode"] == "clipcrop"
        assert photo["phrases"] >= 2
    assert report["features_cosine_min"] > 0.99  # int8 weights move a tiny random model only a little
    manifest = read_manifest(out)
    assert manifest.quantization == "int8-dynamic"
    assert manifest.files == {"image": "image.int8.onnx", "text": "text.int8.onnx",
                              "class_head": "class_head.onnx", "decoder": "decoder.int8.onnx"}
    import onnx

    for name in ("image", "text", "decoder"):  # every weight matrix is int8: none feeds a float product
        graph = onnx.load(str(out / manifest.files[name])).graph
        weights = {init.name for init in graph.initializer}
        float_products = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and weights & set(n.input)]
        assert float_products == [], (name, float_products)
    # the int8 directory serves predictions
    pred = Predictor(model=str(tiny_owlvit_dir), decoder=str(tiny_decoder_ckpt), backend="onnx", onnx_dir=out)
    crops = pred.predict(_photo_array(6), query="the red box", k=2).crops
    assert 1 <= len(crops) <= 2 and crops[0].mode == "clipcrop"


def test_crop_and_batch_on_the_onnx_backend(int8_run, tiny_owlvit_dir, tiny_decoder_ckpt, tmp_path, capsys):  # noqa: F811
    _, out, _, photos = int8_run
    common = ["--model", str(tiny_owlvit_dir), "--decoder", str(tiny_decoder_ckpt), "--backend", "onnx", "--onnx-dir", str(out)]
    assert main(["crop", photos[0], "-q", "the red box", "-k", "2", "-o", str(tmp_path / "a"), "--json", *common]) == 0
    record = json.loads(capsys.readouterr().out.splitlines()[0])
    assert record["mode"] == "clipcrop" and 1 <= len(record["crops"]) <= 2
    folder = tmp_path / "in"
    folder.mkdir()
    for photo in photos:
        (folder / Path(photo).name).write_bytes(Path(photo).read_bytes())
    assert main(["batch", str(folder), "-o", str(tmp_path / "b"), "--quiet", *common]) == 0
    assert len(list((tmp_path / "b").glob("*.json"))) == 2


def test_cli_backend_errors_are_one_line(fp32_export, tiny_owlvit_dir, tmp_path, capsys, monkeypatch):  # noqa: F811
    photo = str(_photo(tmp_path / "p.png", 0))
    base = ["crop", photo, "-q", "a box", "-o", str(tmp_path / "o"), "--model", str(tiny_owlvit_dir)]
    assert main([*base, "--backend", "onnx"]) == 2
    assert "the onnx backend needs the directory written by `promptcrop export-onnx` (--onnx-dir)" in (
        capsys.readouterr().err)
    assert main([*base, "--onnx-dir", str(fp32_export)]) == 2
    assert "an ONNX directory (--onnx-dir) is only used by the onnx backend" in capsys.readouterr().err
    # a directory exported from another model
    assert main([*base[:-1], "google/owlvit-base-patch32", "--backend", "onnx", "--onnx-dir", str(fp32_export)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was exported from OWL-ViT model" in err[0] and "Traceback" not in err[0]
    # onnxruntime missing
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert main([*base, "--backend", "onnx", "--onnx-dir", str(fp32_export)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and INSTALL_HINT in err[0]
    assert main(["export-onnx", "--model", str(tiny_owlvit_dir), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and INSTALL_HINT in err[0] and not (tmp_path / "x").exists()


def test_predictor_backend_arguments_are_checked(fp32_export):  # noqa: F811
    with pytest.raises(RequestError, match="backend must be one of torch, onnx"):
        Predictor(backend="tensorrt")
    with pytest.raises(RequestError, match="needs the directory"):
        Predictor(backend="onnx")
    with pytest.raises(RequestError, match="only used by the onnx backend"):
        Predictor(onnx_dir=fp32_export)


def test_export_beyond_tolerance_writes_nothing(fp32_export, tiny_owlvit_dir, tmp_path, monkeypatch):  # noqa: F811
    import shutil

    import promptcrop.backends.export as export

    def exported_already(spec, path):  # the graphs of the fixture's export: the real ones, fast
        shutil.copy(fp32_export / path.name, path)
        return read_manifest(fp32_export).opset

    monkeypatch.setattr(export, "_export_graph", exported_already)
    out = tmp_path / "strict"
    with pytest.raises(ExportError, match="beyond tolerance .*image.tokens max \\|diff\\|.*nothing was written"):
        export_onnx(str(tiny_owlvit_dir), out, config=ExportConfig(fp32_tolerance=1e-12))
    assert list(tmp_path.iterdir()) == []  # neither the directory nor its staging copy


def test_export_does_not_overwrite_what_is_not_an_export(fp32_export, tiny_owlvit_dir, tmp_path):  # noqa: F811
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="already exists"):
        export_onnx(str(tiny_owlvit_dir), occupied)
    with pytest.raises(CheckpointError, match="does not hold an ONNX export"):
        export_onnx(str(tiny_owlvit_dir), occupied, overwrite=True)
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]


def test_compare_reports_difference_and_cosine():
    import torch

    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    fig = compare(a, torch.tensor([[1.0, 0.0], [0.0, -2.0]]))
    assert fig["max_abs"] == 4.0 and fig["cosine"] == pytest.approx(0.0) and fig["ref_max_abs"] == 2.0
    with pytest.raises(ExportError, match="shape"):
        compare(a, a[:1])


@pytest.mark.slow
def test_real_size_fp32_export_matches_pytorch(tmp_path):
    """Real-size B/32 with random weights and a paper-size decoder: every output within 1e-4
    (tokens relative to their scale, see ExportConfig) and the same crops."""
    import torch

    from promptcrop.config import get_preset
    from promptcrop.model.checkpoint import EncoderInfo, save_decoder
    from promptcrop.model.decoder import ClipCropDecoder
    from promptcrop.model.encoder import OwlViTEncoder
    from promptcrop.testing import build_owlvit_dir

    model = build_owlvit_dir(tmp_path / "owlvit-base-random", size="base", vocab="clip")
    torch.manual_seed(0)
    decoder = save_decoder(ClipCropDecoder(get_preset("paper").decoder), tmp_path / "decoder",
                           encoder_info=EncoderInfo.from_encoder(OwlViTEncoder.from_pretrained(str(model))))
    result = export_onnx(str(model), tmp_path / "onnx", decoder=str(decoder))
    for outputs in result.fidelity.values():
        for fig in outputs.values():
            assert fig["max_abs"] <= 1e-4 * max(1.0, fig["ref_max_abs"])
    kwargs = dict(model=str(model), decoder=str(decoder), local_files_only=True)
    image = _photo_array(7)
    ref = Predictor(**kwargs).predict(image, query="the red box", k=3)
    got = Predictor(**kwargs, backend="onnx", onnx_dir=result.directory).predict(image, query="the red box", k=3)
    assert [c.box for c in got.crops] == [c.box for c in ref.crops]


def test_serve_builds_its_predictor_on_the_onnx_backend(fp32_export, tiny_owlvit_dir, tmp_path):  # noqa: F811
    import argparse

    from promptcrop.serve.commands import add_serve_parser, settings_from_args
    from promptcrop.serve.service import build_predictor

    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", "--model", str(tiny_owlvit_dir), "--backend", "onnx", "--onnx-dir", str(fp32_export)])
    loaded = build_predictor(settings_from_args(args))
    assert loaded.queries_unavailable is None and loaded.predictor.info()["backend"] == "onnx"
    with pytest.raises(RequestError, match="onnx backend needs the directory"):
        settings_from_args(parser.parse_args(["serve", "--backend", "onnx"]))


def test_ray_actors_build_their_predictor_on_the_onnx_backend(fp32_export, tiny_owlvit_dir, tiny_decoder_ckpt,  # noqa: F811
                                                              tmp_path):
    pa = require("pyarrow")
    from image_files import write_photo
    from promptcrop.batch import RunOptions
    from promptcrop.distributed.actor import Columns, CropActor, PredictorSpec
    from promptcrop.options import PredictorOptions
    from promptcrop.request import CropRequest

    photo = write_photo(tmp_path / "a.png", 120, 80)
    spec = PredictorSpec(PredictorOptions(model=str(tiny_owlvit_dir), decoder=str(tiny_decoder_ckpt), offline=True,
                                          backend="onnx", onnx_dir=str(fp32_export)))
    actor = CropActor(spec, RunOptions(request=CropRequest.build(k=1, aspect="1:1")), Columns(query="q"))
    assert actor.runner.predictor.info()["backend"] == "onnx"
    row = actor(pa.table({"image": [str(photo)], "q": ["a red square"]})).to_pylist()[0]
    expected = Predictor(model=str(tiny_owlvit_dir), decoder=str(tiny_decoder_ckpt), local_files_only=True,
                         backend="onnx", onnx_dir=str(fp32_export)).predict(str(photo), "a red square",
                                                                            aspect="1:1", k=1)
    assert row["error"] is None and [c["box"] for c in row["crops"]] == [list(c.box) for c in expected]
