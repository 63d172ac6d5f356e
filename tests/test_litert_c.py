import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from optional import missing, require_face_detector, require_object_detector
from promptcrop.saliency import litert as L
from promptcrop.saliency import litert_c as C


def require_c_api() -> None:
    if C.library_path() is None:
        missing(f"LiteRT's C API of a checked version ({sorted(C.VERIFIED_VERSIONS)}) is not installed")


def model_file(which: tuple[str, str]) -> Path:
    (require_face_detector if which == C.FACE_MODEL else require_object_detector)()
    path = C.package_file(*which)
    assert path is not None
    return path


def test_importing_it_imports_only_the_standard_library():
    code = ("import sys\nimport promptcrop.saliency.litert_c\n"
            "print([m for m in ('numpy', 'PIL', 'promptcrop.saliency.map', 'ai_edge_litert') if m in sys.modules])\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.parametrize("which", [C.FACE_MODEL, C.OBJECT_MODEL], ids=["BlazeFace", "EfficientDet-Lite0"])
def test_a_compiled_model_gives_the_interpreters_outputs(which):
    path = model_file(which)
    require_c_api()
    model, reference = C.CompiledModel(path, 1), L.InterpreterModel(path, 1)
    assert model.input_shape == reference.input_shape
    assert model.input_dtype == ("float32" if which == C.FACE_MODEL else "uint8")
    assert sorted(model.output_shapes) == sorted(reference.output_shapes)
    rng = np.random.default_rng(0)
    for _ in range(2):
        if model.input_dtype == "uint8":
            batch = rng.integers(0, 256, model.input_shape, dtype=np.uint8)
        else:
            batch = rng.uniform(-1, 1, model.input_shape).astype(np.float32)
        got = {o.shape: o.copy() for o in model.run(batch)}
        for expected in reference.run(batch):
            np.testing.assert_allclose(got[expected.shape], expected, rtol=1e-5, atol=1e-5)
    model.close()
    model.close()  # twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        model.run(batch)


def test_the_outputs_are_the_models_buffers_until_the_next_run():
    path = model_file(C.FACE_MODEL)
    require_c_api()
    model = C.CompiledModel(path, 1, warm_up=False)
    first = model.run(np.zeros(model.input_shape, np.float32))
    kept = [o.copy() for o in first]
    second = model.run(np.ones(model.input_shape, np.float32))
    assert all(a is b for a, b in zip(first, second))  # the same buffers, overwritten
    assert any(not np.array_equal(k, s) for k, s in zip(kept, second))
    assert all(o.ctypes.data % C.ALIGNMENT == 0 for o in second)


def _site(tmp_path: Path, *versions: str) -> Path:
    library = tmp_path / "ai_edge_litert" / C.LIBRARY_FILE
    library.parent.mkdir(parents=True, exist_ok=True)
    library.write_bytes(b"")
    for version in versions:
        (tmp_path / f"ai_edge_litert-{version}.dist-info").mkdir()
    return library


@pytest.mark.parametrize("versions, usable", [(("2.3.0",), True), (("9.9.9",), False), (("2.3.0", "9.9.9"), False),
                                              ((), False)])
def test_only_a_checked_runtime_version_is_used(tmp_path, monkeypatch, versions, usable):
    library = _site(tmp_path, *versions)
    monkeypatch.setattr(C, "VERIFIED_VERSIONS", frozenset({"2.3.0"}))
    monkeypatch.setattr(C, "package_file", lambda package, relative: library)
    assert C.library_path() == (library if usable else None)


def test_without_the_c_api_a_detector_runs_on_the_interpreter(monkeypatch):
    import skimage.data

    from promptcrop.saliency import faces as F

    require_face_detector()
    require_c_api()
    on_c = F.FaceDetector()
    assert isinstance(on_c._model, C.CompiledModel)

    def unusable(*args, **kwargs):
        raise RuntimeError("no checked version")

    monkeypatch.setattr(L, "compiled", unusable)
    on_interpreter = F.FaceDetector()
    assert isinstance(on_interpreter._model, L.InterpreterModel)
    photo = skimage.data.astronaut()
    a, b = on_c.detect(photo), on_interpreter.detect(photo)
    assert len(a) == len(b) == 1
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)


def test_a_prebuilt_model_is_handed_out_once(monkeypatch):
    path = model_file(C.FACE_MODEL)
    require_c_api()
    monkeypatch.setattr(C, "_PREBUILT", {})
    C.prebuild([path])
    C.prebuild([path])  # already started: not started again
    assert list(C._PREBUILT) == [(str(path), C.DEFAULT_THREADS)]
    first = C.compiled(path, C.DEFAULT_THREADS)
    assert isinstance(first, C.CompiledModel) and C._PREBUILT == {}
    second = C.compiled(path, C.DEFAULT_THREADS)
    assert second is not first  # a model serves one owner


def test_one_prebuilt_model_failing_leaves_the_next_one_built(tmp_path, monkeypatch):
    path = model_file(C.FACE_MODEL)
    require_c_api()
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a model at all")
    monkeypatch.setattr(C, "_PREBUILT", {})
    C.prebuild([broken, path])
    assert isinstance(C.compiled(path, C.DEFAULT_THREADS), C.CompiledModel)
    with pytest.raises(RuntimeError, match="reading broken.tflite"):
        C.compiled(broken, C.DEFAULT_THREADS)


def test_any_error_of_a_prebuild_becomes_a_runtime_error_the_caller_falls_back_on(tmp_path, monkeypatch):
    require_c_api()

    def fails(path, threads, **kwargs):
        raise OSError("no room for the temporary file")

    monkeypatch.setattr(C, "CompiledModel", fails)
    monkeypatch.setattr(C, "_PREBUILT", {})
    C.prebuild([tmp_path / "model.tflite"])
    with pytest.raises(RuntimeError, match="OSError: no room"):
        C.compiled(tmp_path / "model.tflite", C.DEFAULT_THREADS)


def test_a_file_that_is_not_a_model_fails_quietly_and_the_interpreter_says_why(tmp_path, monkeypatch, capfd):
    require_face_detector()
    require_c_api()
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a model at all")
    monkeypatch.setattr(C, "_PREBUILT", {})
    C.prebuild([broken])
    with pytest.raises(RuntimeError, match="LiteRT's C API failed reading broken.tflite"):
        C.compiled(broken, C.DEFAULT_THREADS)
    with pytest.raises(ValueError):  # the fallback's own error, which the tolerant build reports
        L.open_model(broken, 1, model="BlazeFace", install="pip install x")
    assert "ERROR" not in capfd.readouterr().err


def test_when_the_library_cannot_be_used_the_error_is_kept_and_nothing_is_prebuilt(tmp_path, monkeypatch):
    library = _site(tmp_path, "2.3.0")  # an empty file: not a library
    monkeypatch.setattr(C, "VERIFIED_VERSIONS", frozenset({"2.3.0"}))
    monkeypatch.setattr(C, "package_file", lambda package, relative: library)
    monkeypatch.setattr(C, "_API", None)
    monkeypatch.setattr(C, "_API_ERROR", None)
    monkeypatch.setattr(C, "_PREBUILT", {})
    for _ in range(2):
        with pytest.raises(RuntimeError, match=C.LIBRARY_FILE):
            C.CompiledModel(library, 1)
    C.prebuild_detectors()  # the library is of a checked version, but could not be loaded
    assert C._PREBUILT == {}


def test_the_runtime_log_is_held_back_and_its_errors_only_when_asked(capfd):
    with C.quiet_stderr():
        os.write(2, b"INFO: [environment.cc:36] Creating LiteRT environment with options\n")
        os.write(2, b"WARNING: [gpu_registry.cc:160] GPU accelerator could not be loaded and registered.\n")
        os.write(2, b"ERROR: kept by default\n")
        os.write(2, b"promptcrop: another thread's line\n")
    with C.quiet_stderr(C.RUNTIME_LINES):
        os.write(2, b"ERROR: Model provided has model identifier 'a mo', should be 'TFL3'\n")
        os.write(2, b"promptcrop: still kept\n")
    err = capfd.readouterr().err
    assert err == "ERROR: kept by default\npromptcrop: another thread's line\npromptcrop: still kept\n"
