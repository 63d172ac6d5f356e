import threading

import numpy as np
import pytest

from promptcrop.saliency import litert as L


def test_package_file_finds_files_inside_a_package_without_importing_it(tmp_path, monkeypatch):
    package = tmp_path / "shipsamodel"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (package / "data" / "model.tflite").write_bytes(b"model")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert L.package_file("shipsamodel", "data/model.tflite") == package / "data" / "model.tflite"
    assert L.package_file("shipsamodel", "data/other.tflite") is None
    assert L.package_file("no_such_package_here", "data/model.tflite") is None


def test_in_background_runs_in_another_thread_and_hands_back_the_result():
    seen = []
    result = L.in_background(lambda a, b: seen.append(threading.current_thread()) or a + b, 2, b=3)
    assert result() == 5
    assert seen and seen[0] is not threading.current_thread()


def test_in_background_raises_the_task_error_in_the_caller():
    def fails() -> None:
        raise ValueError("bad pixels")

    result = L.in_background(fails)
    with pytest.raises(ValueError, match="bad pixels"):
        result()


def test_once_runs_its_task_once_in_the_first_thread_free_for_it():
    ran, started, release = [], threading.Event(), threading.Event()

    def task(x):
        ran.append(threading.current_thread())
        started.set()
        release.wait(5)
        return x * 2

    once = L.Once(task, 21)
    worker = threading.Thread(target=once.if_free)
    worker.start()
    assert started.wait(5)
    once.if_free()  # taken already: returns at once instead of running it again
    release.set()
    assert once() == 42  # waits for the worker's run
    worker.join()
    assert ran == [worker]


def test_once_hands_its_task_error_to_every_caller():
    def fails() -> None:
        raise ValueError("bad corner")

    once = L.Once(fails)
    once.if_free()
    for _ in range(2):
        with pytest.raises(ValueError, match="bad corner"):
            once()


def test_a_cancelled_once_never_runs_and_says_so():
    ran = []
    once = L.Once(ran.append, 1)
    once.cancel()
    once.if_free()
    with pytest.raises(RuntimeError, match="cancelled"):
        once()
    assert ran == []
    done = L.Once(ran.append, 2)
    done.if_free()
    done.cancel()  # too late: it ran, and its result stands
    assert done() is None and ran == [2]


def test_check_rgb_refuses_what_is_not_a_uint8_rgb_image():
    assert L.check_rgb(np.zeros((4, 5, 3), np.uint8)).flags["C_CONTIGUOUS"]
    for bad in (np.zeros((4, 5), np.uint8), np.zeros((4, 5, 4), np.uint8), np.zeros((0, 5, 3), np.uint8),
                np.zeros((4, 5, 3), np.float32)):
        with pytest.raises(ValueError, match="uint8 RGB"):
            L.check_rgb(bad)


def test_weighted_nms_merges_overlaps_into_score_weighted_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.3, 0.8])
    merged, kept = L.weighted_nms(boxes, scores, iou=0.3)
    assert kept.tolist() == [0.9, 0.8]
    np.testing.assert_allclose(merged[0], (0.9 * boxes[0] + 0.3 * boxes[1]) / 1.2)
    np.testing.assert_allclose(merged[1], boxes[2])
    empty, none = L.weighted_nms(np.zeros((0, 4)), np.zeros(0), iou=0.3)
    assert empty.shape == (0, 4) and none.shape == (0,)


def test_stderr_held_back_is_written_out_except_the_runtime_announcement(capfd):
    import os
    import time

    def other_thread() -> None:
        time.sleep(0.02)
        os.write(2, b"promptcrop: error: another thread's line\n")

    with L.quiet_stderr():
        writer = threading.Thread(target=other_thread)
        writer.start()
        os.write(2, b"INFO: " + L.RUNTIME_ANNOUNCEMENT + b" for CPU.\n")
        with L.quiet_stderr():  # nested: part of the same capture, no deadlock
            os.write(2, b"inner line\n")
        writer.join()
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "another thread's line" in err and "inner line" in err and err.endswith("after\n")
    assert L.RUNTIME_ANNOUNCEMENT.decode() not in err


def test_two_threads_capturing_at_once_leave_stderr_working(capfd):
    import os

    def capture() -> None:
        for _ in range(20):
            with L.quiet_stderr():
                os.write(2, b"x\n")

    threads = [threading.Thread(target=capture) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.write(2, b"still here\n")
    err = capfd.readouterr().err
    assert err.count("x\n") == 40 and err.endswith("still here\n")


def test_a_runtime_record_parted_by_another_write_is_dropped_only_where_errors_are(capfd):
    import os

    from promptcrop.saliency import litert_c

    def parted(level: bytes, body: bytes) -> None:
        os.write(2, level)  # the runtime writes its level prefix and its record apart
        os.write(2, b"line 7\n")  # another thread's line lands between them
        os.write(2, body)

    with L.quiet_stderr(litert_c.RUNTIME_LINES):  # every runtime line is dropped: the parted body too
        parted(b"WARNING: ", b"[npu_registry.cc:34] NPU accelerator could not be loaded.\n")
    assert "npu_registry" not in capfd.readouterr().err  # ("WARNING: line 7" has the runtime's form)
    with L.quiet_stderr():  # errors are kept: a body whose level is unknown is kept, and the line
        parted(b"ERROR: ", b"[compiled_model.cc:99] Failed to compile: bad op\n")
    err = capfd.readouterr().err
    assert "line 7" in err and "Failed to compile: bad op" in err


def test_an_ended_stderr_writer_left_in_place_is_unwrapped_by_the_next_capture():
    import subprocess
    import sys

    code = ("import os, sys\nfrom promptcrop.saliency import litert as L\nseen = sys.stderr\n"
            "with L.quiet_stderr():\n    during = sys.stderr\n"
            "sys.stderr = during  # someone restores what they saw during the capture\n"
            "with L.quiet_stderr():\n    os.write(2, b'native\\n')\n    print('python', file=sys.stderr)\n"
            "print(sys.stderr is seen, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stderr == "python\nnative\nTrue\n"  # at once again, and the real stream back


def test_python_writes_to_stderr_during_a_capture_are_not_held():
    import subprocess
    import sys

    code = ("import os, sys\nfrom promptcrop.saliency import litert as L\nwith L.quiet_stderr():\n"
            "    os.write(2, b'native\\n')\n    print('python', file=sys.stderr)\n"
            "print(type(sys.stderr).__name__, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stderr == "python\nnative\nTextIOWrapper\n"  # at once, then the held line; restored


def test_stderr_beside_a_capture_forwards_to_the_stream_once_it_ends(tmp_path):
    import io
    import os

    from promptcrop.saliency import litert_c

    path = tmp_path / "real"
    stream = io.StringIO()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    beside = litert_c._Beside(stream, fd)
    beside.write("during é\n")
    beside.end()
    os.close(fd)
    beside.write("after\n")
    assert path.read_text(encoding="utf-8") == "during é\n" and stream.getvalue() == "after\n"
    assert beside.getvalue() == "after\n"  # everything else is the stream's


def test_an_error_right_after_the_detectors_start_loading_still_reaches_stderr():
    import os
    import subprocess
    import sys

    code = ("import sys\nfrom promptcrop.saliency import warm_up_detectors\nwarm_up_detectors()\n"
            "for i in range(20):\n    print(f'line {i}', file=sys.stderr)\nraise ValueError('boom')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
        # a line a thread began printing as a capture started may come out late, never lost
        assert done.returncode == 1 and "ValueError: boom" in done.stderr
        assert all(f"line {i}" in done.stderr for i in range(20))
        assert "XNNPACK" not in done.stderr


def test_rgb_image_is_what_a_detector_looks_at():
    from PIL import Image

    rgb = Image.new("RGB", (5, 4))
    assert L.rgb_image(rgb) is rgb  # already RGB: no copy
    assert L.rgb_image(Image.new("L", (5, 4))).mode == "RGB"
    assert L.rgb_image(np.zeros((4, 5, 3), np.uint8)).size == (5, 4)
    with pytest.raises(ValueError, match="uint8 RGB"):
        L.rgb_image(np.zeros((4, 5), np.uint8))
