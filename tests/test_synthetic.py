import dataclasses
import json

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from promptcrop import boxes as B
from promptcrop.data.datasets import load_caption_set, load_phrase_boxes
from promptcrop.data.gaic import GaicDataset
from promptcrop.train.synthetic import (
    COLOURS,
    SyntheticConfig,
    generate_scene,
    ideal_framing,
    scene_rng,
    write_gaic_dataset,
)
from promptcrop.train.targets import good_crops

CONFIG = SyntheticConfig(seed=3)


def _scenes(n: int, config: SyntheticConfig = CONFIG):
    return [generate_scene(scene_rng(config.seed, "train", i), config) for i in range(n)]


def test_config_validation():
    with pytest.raises(ValueError, match="shapes"):
        SyntheticConfig(shapes=("circle", "hexagon"))
    with pytest.raises(ValueError, match="colours"):
        SyntheticConfig(colours=())
    with pytest.raises(ValueError, match="width_range"):
        SyntheticConfig(width_range=(300, 200))
    with pytest.raises(ValueError, match="n_shapes_range"):
        SyntheticConfig(shapes=("circle",), colours=("red", "blue"), n_shapes_range=(1, 3))
    with pytest.raises(ValueError, match="two_object_prob"):
        SyntheticConfig(two_object_prob=1.5)


def test_scenes_are_seeded():
    a, b = (generate_scene(np.random.default_rng(7), CONFIG) for _ in range(2))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mos, b.mos)
    assert a.caption == b.caption
    c = generate_scene(np.random.default_rng(8), CONFIG)
    assert c.image.shape != a.image.shape or not np.array_equal(c.image, a.image)


def test_object_boxes_are_the_drawn_pixels_and_captions_name_unique_objects():
    for scene in _scenes(10):
        pairs = [(o.shape, o.colour) for o in scene.objects]
        assert len(set(pairs)) == len(pairs)
        for obj in scene.objects:
            x1, y1, x2, y2 = obj.box_xyxy_px.astype(int)
            patch = scene.image[max(y1 - 2, 0) : y2 + 2, max(x1 - 2, 0) : x2 + 2].astype(int)
            ys, xs = np.nonzero((np.abs(patch - COLOURS[obj.colour]) <= 1).all(axis=2))
            found = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] + np.array(
                [max(x1 - 2, 0), max(y1 - 2, 0)] * 2
            )
            np.testing.assert_array_equal(found, obj.box_xyxy_px)
        for index in scene.named:
            assert scene.objects[index].phrase in scene.caption
        assert len(scene.named) in (1, 2)
        np.testing.assert_array_equal(
            scene.named_boxes_xyxy_px, np.stack([scene.objects[i].box_xyxy_px for i in scene.named])
        )


def test_two_object_captions_follow_the_probability():
    always = SyntheticConfig(seed=1, two_object_prob=1.0, n_shapes_range=(2, 3))
    assert all(len(s.named) == 2 and " and " in s.caption for s in _scenes(5, always))
    never = SyntheticConfig(seed=1, two_object_prob=0.0)
    assert all(len(s.named) == 1 for s in _scenes(5, never))


def test_distinct_shapes_make_every_shape_name_unique_in_a_scene():
    config = SyntheticConfig(seed=2, distinct_shapes=True, n_shapes_range=(3, 4))
    for scene in _scenes(20, config):
        shapes = [o.shape for o in scene.objects]
        assert len(set(shapes)) == len(shapes)
    with pytest.raises(ValueError, match="distinct_shapes"):
        SyntheticConfig(distinct_shapes=True, n_shapes_range=(2, 5))


def test_one_colour_scenes_follow_their_probability_and_leave_other_scenes_alone():
    base = SyntheticConfig(seed=3, distinct_shapes=True, n_shapes_range=(3, 4))
    mixed = dataclasses.replace(base, one_colour_prob=0.5)
    scenes = _scenes(40, mixed)
    single = [len({o.colour for o in s.objects}) == 1 for s in scenes]
    assert 10 <= sum(single) <= 30  # about half
    for scene in scenes:
        assert len({o.shape for o in scene.objects}) == len(scene.objects)  # names stay unique
    first = _scenes(1, dataclasses.replace(base, one_colour_prob=0.0))[0]
    assert [o.phrase for o in first.objects] == [o.phrase for o in _scenes(1, base)[0].objects]
    with pytest.raises(ValueError, match="one_colour_prob needs distinct_shapes"):
        SyntheticConfig(one_colour_prob=0.5)
    with pytest.raises(ValueError, match="one_colour_prob"):
        SyntheticConfig(distinct_shapes=True, n_shapes_range=(2, 4), one_colour_prob=1.5)


def test_mos_rises_with_how_well_a_crop_frames_the_named_objects():
    config = SyntheticConfig(seed=5, mos_noise=0.0)
    for scene in _scenes(8, config):
        mos, cands = scene.mos, scene.candidates_xyxy_px
        assert 83 <= len(cands) <= 90 and mos.shape == (len(cands),)
        assert ((mos >= 1) & (mos <= 5)).all()
        holds = B.box_coverage(cands, scene.named_boxes_xyxy_px).min(axis=1) >= 1.0
        assert holds.any()
        best = int(np.argmax(mos))
        assert holds[best] and mos[best] >= 4.0
        # cutting a named object costs more than any framing that keeps it
        assert mos[~holds].max(initial=1.0) < mos[holds].max()
        iou = B.box_iou(cands[holds], scene.ideal_xyxy_px[None])[:, 0]
        if holds.sum() > 3:
            assert spearmanr(iou, mos[holds]).statistic > 0.99


def _good_crops(scene):
    """The crops training counts as good (:func:`promptcrop.train.targets.good_crops`)."""
    return scene.candidates_xyxy_px[good_crops(torch.as_tensor(scene.mos)).numpy()]


def test_mos_iou_power_keeps_the_good_crops_for_the_framings_nearest_the_ideal():
    plain = SyntheticConfig(seed=4, mos_noise=0.0)
    sharp = dataclasses.replace(plain, mos_iou_power=2.0)
    counts, ious = {1: [], 2: []}, {1: [], 2: []}
    for a, b in zip(_scenes(20, plain), _scenes(20, sharp)):
        np.testing.assert_array_equal(a.image, b.image)  # the same scenes, scored differently
        for power, scene in ((1, a), (2, b)):
            good = _good_crops(scene)
            counts[power].append(len(good))
            ious[power].append(B.box_iou(good, scene.annotator_boxes_xyxy_px).mean())
    assert np.mean(counts[2]) < np.mean(counts[1]) / 2
    assert np.mean(ious[2]) > np.mean(ious[1]) + 0.03
    with pytest.raises(ValueError, match="mos_iou_power"):
        SyntheticConfig(mos_iou_power=0.0)


def test_ideal_framing_holds_the_objects_keeps_the_aspect_and_min_area():
    named = np.array([[300.0, 20.0, 340.0, 60.0]])
    box = ideal_framing(named, 400, 300, min_area=0.5, margin=0.35)
    assert B.contains(box, named[0])
    assert abs((box[2] - box[0]) / (box[3] - box[1]) - 400 / 300) < 1e-9
    assert B.box_area(box) >= 0.5 * 400 * 300 - 1e-6
    assert box[2] == 400 and box[1] == 0  # pushed into the corner the object sits in
    whole = ideal_framing(np.array([[0.0, 0.0, 400.0, 300.0]]), 400, 300, 0.5, 0.35)
    np.testing.assert_allclose(whole, [0, 0, 400, 300])


def test_annotator_boxes_hold_the_named_objects_near_the_ideal():
    for scene in _scenes(10):
        width, height = scene.image_size
        boxes = scene.annotator_boxes_xyxy_px
        assert boxes.shape == (CONFIG.n_annotators, 4)
        union = B.union_box(scene.named_boxes_xyxy_px)
        assert B.contains(boxes, union[None]).all()
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= width).all()
        assert (boxes[:, 3] <= height).all()
        assert (B.box_iou(boxes, scene.ideal_xyxy_px[None]) > 0.6).all()


def test_whole_image_is_not_a_good_answer_but_the_best_candidate_is():
    whole, best = [], []
    for scene in _scenes(30):
        width, height = scene.image_size
        truth = scene.annotator_boxes_xyxy_px
        whole.append(B.box_iou(np.array([[0, 0, width, height]]), truth).mean())
        best.append(B.box_iou(scene.candidates_xyxy_px[[np.argmax(scene.mos)]], truth).mean())
    assert np.mean(best) > np.mean(whole) + 0.15


def test_written_dataset_is_read_by_the_gaic_and_eval_readers(tmp_path):
    config = SyntheticConfig(seed=11, width_range=(200, 260), height_range=(180, 240))
    root = write_gaic_dataset(tmp_path / "syn", config, {"train": 3, "val": 2})
    train = GaicDataset(root, "train", text_labels=root / "text")
    assert len(train) == 3
    scene = generate_scene(scene_rng(11, "train", 1), config)
    sample = train[1]
    assert sample.caption == scene.caption and sample.image_size == scene.image_size
    np.testing.assert_array_equal(sample.crops_xyxy_px, scene.candidates_xyxy_px)
    np.testing.assert_allclose(sample.mos, scene.mos)
    first_line = (root / "annotations" / "train" / f"{sample.image_id}.txt").read_text()
    x1, y1, x2, y2 = scene.candidates_xyxy_px[0].astype(int)
    assert first_line.startswith(f"{y1} {x1} {y2} {x2} ")  # row first, as GAIC
    assert len(GaicDataset(root, "val", text_labels=root / "text")) == 2
    assert json.loads((root / "text" / "valid.json").read_text()).keys() == {
        "val00000.jpg", "val00001.jpg"
    }

    captions = load_caption_set(root / "captions" / "train.json")
    assert captions[1].image_path.resolve() == sample.image_path.resolve()
    assert captions[1].query == scene.caption
    np.testing.assert_allclose(captions[1].boxes_xyxy_px, scene.annotator_boxes_xyxy_px)
    objects = load_phrase_boxes(root / "objects" / "train.json")
    assert objects[1].phrases == tuple(o.phrase for o in scene.objects)
    np.testing.assert_allclose(
        objects[1].boxes_xyxy_px, np.stack([o.box_xyxy_px for o in scene.objects])
    )
    meta = json.loads((root / "synthetic.json").read_text())
    assert meta["config"]["seed"] == 11 and meta["splits"] == {"train": 3, "val": 2}


def test_scene_seeding_does_not_depend_on_split_sizes(tmp_path):
    config = SyntheticConfig(seed=2, width_range=(128, 160), height_range=(128, 160))
    small = write_gaic_dataset(tmp_path / "a", config, {"test": 1})
    large = write_gaic_dataset(tmp_path / "b", config, {"train": 2, "test": 2})
    name = "annotations/test/test00000.txt"
    assert (small / name).read_text() == (large / name).read_text()
    with pytest.raises(ValueError, match="splits"):
        write_gaic_dataset(tmp_path / "c", config, {"valid": 1})
