"""Grounding fine-tuning: queries built from phrases, losses, matching, a short run that learns and
saves a loadable OWL-ViT, and the ``promptcrop finetune-encoder`` command."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from promptcrop.data.datasets import load_phrase_boxes
from promptcrop.model.encoder import OwlViTEncoder
from promptcrop.train.commands import add_finetune_parser, finetune_config_from_file, run_finetune
from promptcrop.train.engine import CosineSchedule
from promptcrop.train.finetune import (
    DeadlineSchedule,
    FinetuneConfig,
    GroundingFinetuner,
    GroundingQueries,
    batch_grounding_losses,
    build_queries,
    centre_tokens,
    focal_loss,
    grounding_losses,
    load_sample,
    match_objects,
    token_softmax_loss,
)

KEYWORDS = {"red circle": ("circle",), "blue circle": ("circle",), "green star": ("star",)}


# --------------------------------------------------------------------------- queries


def test_queries_name_the_right_objects() -> None:
    phrases = ["red circle", "green star", "red circle", "blue circle"]
    config = FinetuneConfig(templates=("{}",), pair_queries=1)
    q = build_queries(phrases, KEYWORDS, np.random.default_rng(0), config)
    named = dict(zip(q.texts, q.positives))
    assert named["red circle"] == [0, 2] and named["green star"] == [1] and named["blue circle"] == [3]
    assert named["circle"] == [0, 2, 3] and named["star"] == [1]
    assert q.own_query == [0, 1, 0, 2]  # each object's own phrase query
    pair = [t for t in q.texts if " and " in t]
    assert len(pair) == 1
    a, b = pair[0].split(" and ")
    assert sorted(named[pair[0]]) == sorted(named[a] + named[b])


def test_templates_and_switches() -> None:
    config = FinetuneConfig(templates=("the {}",), keyword_queries=False, pair_queries=0)
    q = build_queries(["red circle"], KEYWORDS, np.random.default_rng(0), config)
    assert q.texts == ["the red circle"] and q.positives == [[0]]


@pytest.mark.parametrize(
    "changes",
    [{"epochs": 0}, {"lr": 0.0}, {"min_lr": 1.0}, {"templates": ("no slot",)}, {"class_loss": "hinge"},
     {"hflip_prob": 2.0}, {"pair_queries": -1}, {"assignment": "nearest"}],
)
def test_invalid_config_raises(changes) -> None:
    with pytest.raises(ValueError):
        FinetuneConfig(**changes)


def test_config_file_overrides_defaults(tmp_path) -> None:
    path = tmp_path / "ft.json"
    path.write_text(json.dumps({"lr": 1e-3, "templates": ["{}"]}))
    config = finetune_config_from_file(str(path))
    assert config.lr == 1e-3 and config.templates == ("{}",) and config.epochs == FinetuneConfig().epochs
    path.write_text(json.dumps({"learning_rate": 1}))
    with pytest.raises(ValueError, match="learning_rate"):
        finetune_config_from_file(str(path))


# --------------------------------------------------------------------------- losses


def test_token_softmax_loss_is_the_cross_entropy_over_tokens() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # [P=3, Q=2]
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    loss = token_softmax_loss(logits, targets)
    expected_q0 = -torch.log_softmax(logits[:, 0], 0)[0]
    expected_q1 = -torch.log(torch.softmax(logits[:, 1], 0)[1:].sum())
    torch.testing.assert_close(loss, torch.stack([expected_q0, expected_q1]))


def test_focal_loss_is_small_for_confident_right_answers() -> None:
    targets = torch.tensor([1.0, 0.0])
    right = focal_loss(torch.tensor([6.0, -6.0]), targets, 0.25, 2.0)
    wrong = focal_loss(torch.tensor([-6.0, 6.0]), targets, 0.25, 2.0)
    assert (right < 1e-4).all() and (wrong > 1.0).all()


def _toy_image_case():
    # 4 tokens; objects 0 and 1 sit exactly on tokens 2 and 0.
    boxes = torch.tensor([[0.2, 0.2, 0.2, 0.2], [0.5, 0.5, 0.1, 0.1], [0.7, 0.7, 0.2, 0.2], [0.4, 0.4, 0.8, 0.8]])
    objects = torch.tensor([[0.7, 0.7, 0.2, 0.2], [0.2, 0.2, 0.2, 0.2]])
    queries = GroundingQueries(texts=["a", "b", "a and b"], positives=[[0], [1], [0, 1]], own_query=[0, 1])
    return boxes, objects, queries


def test_matching_puts_each_object_on_its_own_token() -> None:
    boxes, objects, queries = _toy_image_case()
    logits = torch.zeros(4, 3)
    assert match_objects(logits, boxes, objects, queries, FinetuneConfig()).tolist() == [2, 0]


def test_grounding_losses_reward_the_matched_tokens() -> None:
    boxes, objects, queries = _toy_image_case()
    good = torch.full((4, 3), -5.0)
    good[2, [0, 2]] = 5.0
    good[0, [1, 2]] = 5.0
    bad = good.flip(0).clone().requires_grad_(True)
    config = FinetuneConfig()
    good_terms = grounding_losses(good, boxes, objects, queries, config, (2, 2))
    bad_terms = grounding_losses(bad, boxes, objects, queries, config, (2, 2))
    assert good_terms["loss_class"] < 0.01 < bad_terms["loss_class"]
    assert float(good_terms["loss_l1"]) == pytest.approx(0.0) and float(good_terms["loss_giou"]) == pytest.approx(0.0)
    bad_terms["loss_class"].backward()
    assert bad.grad is not None and bad.grad.abs().sum() > 0


def _random_image_case(rng: np.random.Generator, n_objects: int, n_queries: int):
    tokens = 16  # a 4 x 4 grid
    centres = rng.uniform(0.2, 0.8, size=(tokens, 2))
    boxes = torch.tensor(np.concatenate([centres, rng.uniform(0.05, 0.4, size=(tokens, 2))], 1), dtype=torch.float32)
    objects = torch.tensor(np.concatenate([rng.uniform(0.2, 0.8, size=(n_objects, 2)),
                                           rng.uniform(0.1, 0.5, size=(n_objects, 2))], 1), dtype=torch.float32)
    positives = [[q % n_objects] for q in range(n_queries - 1)] + [list(range(n_objects))]
    queries = GroundingQueries([f"q{q}" for q in range(n_queries)], positives, list(range(n_objects)))
    return torch.tensor(rng.normal(size=(tokens, n_queries)), dtype=torch.float32), boxes, objects, queries


@pytest.mark.parametrize("assignment", ["hungarian", "centre"])
@pytest.mark.parametrize("class_loss", ["softmax", "focal"])
def test_batch_losses_are_the_mean_of_the_images_losses(assignment: str, class_loss: str) -> None:
    rng = np.random.default_rng(3)
    cases = [_random_image_case(rng, g, q) for g, q in ((2, 3), (1, 2), (3, 5))]  # different widths
    config = FinetuneConfig(assignment=assignment, class_loss=class_loss)
    width = max(len(c[3].texts) for c in cases)
    padded = torch.full((len(cases), 16, width), -1e4)  # padding columns as query_logits masks them
    for b, case in enumerate(cases):
        padded[b, :, : case[0].shape[1]] = case[0]
    padded.requires_grad_(True)
    batch = batch_grounding_losses(padded, torch.stack([c[1] for c in cases]), [c[2] for c in cases],
                                   [c[3] for c in cases], config, (4, 4))
    singles = [grounding_losses(*case, config, (4, 4)) for case in cases]
    for name in ("loss_class", "loss_l1", "loss_giou"):
        torch.testing.assert_close(batch[name], torch.stack([t[name] for t in singles]).mean())
    sum(batch.values()).backward()
    assert torch.isfinite(padded.grad).all()
    assert padded.grad[1, :, 2:].abs().sum() == 0  # padding gets no gradient


def test_centre_tokens_are_the_patches_inside_each_object() -> None:
    objects = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.9, 0.1, 0.05, 0.05]])  # big centre, tiny corner
    inside, nearest = centre_tokens(objects, (4, 4))  # patch centres at 0.125, 0.375, ...
    assert inside.tolist() == [5, 6, 9, 10]
    assert nearest.tolist() == [3]  # row 0, col 3: the nearest patch centre (0.875, 0.125)


def test_centre_assignment_trains_every_token_inside_the_object() -> None:
    boxes = torch.tensor([[0.25, 0.25, 0.5, 0.5], [0.75, 0.25, 0.5, 0.5],
                          [0.25, 0.75, 0.5, 0.5], [0.75, 0.75, 0.5, 0.5]])  # [P=4], grid 2 x 2
    objects = torch.tensor([[0.5, 0.25, 1.0, 0.5]])  # covers the two top patches
    queries = GroundingQueries(texts=["top"], positives=[[0]], own_query=[0])
    logits = torch.tensor([[3.0], [3.0], [-3.0], [-3.0]])
    config = FinetuneConfig(assignment="centre")
    terms = grounding_losses(logits, boxes, objects, queries, config, (2, 2))
    assert float(terms["loss_class"]) == pytest.approx(-np.log(2 / (2 + 2 * np.exp(-6))), abs=1e-6)
    assert float(terms["loss_l1"]) == pytest.approx(0.75)  # each top token is off by 0.25 + 0.5
    hungarian = grounding_losses(logits, boxes, objects, queries, FinetuneConfig(), (2, 2))
    assert float(hungarian["loss_class"]) > float(terms["loss_class"])  # one token only: 50 %


def test_samples_flip_with_their_boxes(small_scenes_dir) -> None:
    item = load_phrase_boxes(small_scenes_dir / "objects" / "train.json")[0]
    plain = load_sample(item, None, FinetuneConfig())
    flipped = load_sample(item, np.random.default_rng(0), FinetuneConfig(hflip_prob=1.0, jitter=0.0))
    np.testing.assert_array_equal(flipped.image, plain.image[:, ::-1])
    torch.testing.assert_close(flipped.boxes_cxcywh[:, 0], 1.0 - plain.boxes_cxcywh[:, 0])
    torch.testing.assert_close(flipped.boxes_cxcywh[:, 1:], plain.boxes_cxcywh[:, 1:])


# --------------------------------------------------------------------------- training


def test_short_finetune_lowers_the_loss_and_saves_a_loadable_model(small_owlvit_dir, small_scenes_dir, tmp_path) -> None:
    train = load_phrase_boxes(small_scenes_dir / "objects" / "train.json")
    val = load_phrase_boxes(small_scenes_dir / "objects" / "val.json")
    config = FinetuneConfig(epochs=10, batch_size=3, lr=1e-2, hflip_prob=0.0, jitter=0.0, pair_queries=0)
    tuner = GroundingFinetuner(OwlViTEncoder.from_pretrained(str(small_owlvit_dir)), train, config,
                               tmp_path / "ft", val_set=val, progress=False)
    rng = np.random.default_rng(0)
    samples = [load_sample(item, None, config) for item in train]
    queries = [build_queries(s.phrases, tuner.keywords, rng, config) for s in samples]
    with torch.no_grad():
        before = float(tuner.batch_losses(samples, queries)["loss"])
    result = tuner.fit()
    with torch.no_grad():
        after = float(tuner.batch_losses(samples, queries)["loss"])
    assert result.steps == 20 and after < 0.7 * before
    assert set(result.val) == {"acc50", "mean_iou", "keyword_acc50"}
    assert 0.0 <= result.val["acc50"] <= 1.0 and 0.0 <= result.val["keyword_acc50"] <= 1.0
    events = [json.loads(line) for line in (tmp_path / "ft" / "metrics.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("val") == 10
    saved = OwlViTEncoder.from_pretrained(str(tmp_path / "ft"))
    assert torch.equal(saved.model.box_head.dense0.weight, tuner.encoder.model.box_head.dense0.weight)
    assert not torch.equal(saved.model.box_head.dense0.weight,
                           OwlViTEncoder.from_pretrained(str(small_owlvit_dir)).model.box_head.dense0.weight)


def test_read_ahead_and_image_cache_give_the_same_model_as_a_plain_loop(
    small_owlvit_dir, small_scenes_dir, tmp_path
) -> None:
    """The prefetching thread draws augmentation and queries from the epoch's generator in batch
    order, and cached images are the decoded files, unchanged by augmentation, so with and without
    either the run is the same, step for step (flip and jitter on; 5 steps of 2 of the 6 images,
    so the second epoch augments cached images again)."""
    train = load_phrase_boxes(small_scenes_dir / "objects" / "train.json")
    config = FinetuneConfig(epochs=2, batch_size=2, lr=3e-3, hflip_prob=0.5, jitter=0.3, pair_queries=1)
    weights = []
    for read_ahead, cache in ((True, False), (False, False), (True, True)):
        tuner = GroundingFinetuner(OwlViTEncoder.from_pretrained(str(small_owlvit_dir)), train, config,
                                   tmp_path / f"ft-{read_ahead}-{cache}", progress=False,
                                   prefetch=read_ahead, cache_images=cache)
        tuner.fit(max_steps=5)
        assert tuner.step == 5
        if cache:
            assert set(tuner._images) == {item.image_path for item in train}
            assert not any(image.flags.writeable for image in tuner._images.values())
        weights.append(tuner.encoder.model.state_dict())
    for other in weights[1:]:
        for name, value in weights[0].items():
            torch.testing.assert_close(value, other[name], rtol=0, atol=0, msg=name)


def test_finetune_command(small_owlvit_dir, small_scenes_dir, tmp_path, capsys) -> None:
    parser = argparse.ArgumentParser()
    add_finetune_parser(parser.add_subparsers(dest="command"))
    config = tmp_path / "ft.json"
    config.write_text(json.dumps({"epochs": 1, "batch_size": 6}))
    args = parser.parse_args([
        "finetune-encoder", "--data-root", str(small_scenes_dir), "--model", str(small_owlvit_dir), "--out",
        str(tmp_path / "out"), "--config", str(config), "--device", "cpu", "--quiet", "--cache-images",
        "--attention", "eager", "--max-minutes", "10", "--anneal-by-deadline",
    ])
    assert args.handler is run_finetune
    assert run_finetune(args) == 0
    out = capsys.readouterr().out
    assert "fine-tuned 1 steps" in out and "acc@0.5" in out
    assert OwlViTEncoder.from_pretrained(str(tmp_path / "out")).grid_hw == (8, 8)


def test_deadline_schedule_follows_the_clock_when_the_run_is_slow() -> None:
    now = [100.0]
    cosine = CosineSchedule(total_steps=100, warmup_steps=0, min_ratio=0.01)
    schedule = DeadlineSchedule(cosine, max_seconds=10.0, clock=lambda: now[0])
    assert schedule(30) == cosine(30)  # not started: the plain step
    schedule.start()
    now[0] = 105.0  # half the time gone
    assert schedule(10) == cosine(50)  # slow run: the clock leads
    assert schedule(70) == cosine(70)  # fast run: the steps lead
    now[0] = 111.0
    assert schedule(60) == pytest.approx(0.01)  # budget spent: the minimum rate
    with pytest.raises(ValueError, match="max_seconds"):
        DeadlineSchedule(cosine, max_seconds=0)


def test_a_run_cut_by_its_deadline_ends_at_min_lr(small_owlvit_dir, small_scenes_dir, tmp_path) -> None:
    train = load_phrase_boxes(small_scenes_dir / "objects" / "train.json")
    config = FinetuneConfig(epochs=50, batch_size=2, lr=1e-3, min_lr=1e-5)
    encoder = OwlViTEncoder.from_pretrained(str(small_owlvit_dir))
    with pytest.raises(ValueError, match="max_seconds"):
        GroundingFinetuner(encoder, train, config, tmp_path / "x", anneal_by_deadline=True)
    tuner = GroundingFinetuner(encoder, train, config, tmp_path / "ft", progress=False,
                               max_seconds=1e-3, anneal_by_deadline=True)
    result = tuner.fit()
    assert result.steps < 50 * tuner.batches_per_epoch
    assert tuner.optimizer.param_groups[0]["lr"] == pytest.approx(1e-5)
