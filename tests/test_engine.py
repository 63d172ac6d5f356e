"""Training engine: schedule, optimiser, a short run lowers the loss, bit-exact resume, run folder,
fine-tuned encoder option, ClipCrop-base, and the ``promptcrop train`` command."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math

import pytest
import torch

from promptcrop.config import TINY as TINY_MODEL
from promptcrop.data.gaic import GaicDataset
from promptcrop.errors import CheckpointError, PromptcropError
from promptcrop.model.checkpoint import load_decoder, read_checkpoint_info
from promptcrop.model.encoder import OwlViTEncoder
from promptcrop.queries import parse_query, query_phrases
from promptcrop.train.augment import AugmentConfig
from promptcrop.train.commands import add_train_parser, run_train
from promptcrop.train.config import TINY, TrainConfig, save_train_config
from promptcrop.train.dataset import CropTrainDataset
from promptcrop.train.engine import CosineSchedule, Trainer, adamw, build_optimizer, pad_queries, steps_per_epoch

NO_AUGMENT = AugmentConfig(grids=(1,), max_side=None, flip_prob=0.0, brightness=0.0, contrast=0.0,
                           saturation=0.0)


def _config(small_owlvit_dir, **changes) -> TrainConfig:
    decoder = dataclasses.replace(TINY_MODEL.decoder, n_queries=12)
    model = dataclasses.replace(TINY_MODEL, encoder_id=str(small_owlvit_dir), decoder=decoder)
    changes.setdefault("batch_size", 2)
    return dataclasses.replace(TINY, model=model, **changes)


def _data(root, config: TrainConfig, split: str = "train", augment: bool = True) -> CropTrainDataset:
    gaic = GaicDataset(root, split, text_labels=root / "text" if config.conditioned else None)
    return CropTrainDataset(gaic, config.augment if augment else None, config.seed)


def _trainer(owl, root, run_dir, config: TrainConfig, *, val: bool = False) -> Trainer:
    encoder = OwlViTEncoder.from_pretrained(str(owl))
    val_data = _data(root, config, "val", augment=False) if val else None
    return Trainer(config, encoder, _data(root, config), run_dir, val_data=val_data, progress=False)


# --------------------------------------------------------------------------- building blocks


def test_cosine_schedule_goes_from_one_to_min_ratio() -> None:
    schedule = CosineSchedule(total_steps=11, warmup_steps=0, min_ratio=0.01)
    values = [schedule(s) for s in range(11)]
    assert values[0] == pytest.approx(1.0) and values[-1] == pytest.approx(0.01)
    assert values[5] == pytest.approx(0.505)  # half way: the mean of the two ends
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_cosine_schedule_warms_up_linearly() -> None:
    schedule = CosineSchedule(total_steps=20, warmup_steps=4, min_ratio=0.0)
    assert [schedule(s) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert schedule(4) == pytest.approx(1.0) and schedule(19) == pytest.approx(0.0)


def test_paper_learning_rates_run_from_1e4_to_1e6() -> None:
    decoder = torch.nn.Linear(2, 2)
    config = TrainConfig()
    optimizer = build_optimizer(decoder, None, config)
    assert isinstance(optimizer, torch.optim.AdamW)
    schedule = CosineSchedule(100, 0, config.optim.min_lr / config.optim.lr)
    assert config.optim.lr * schedule(0) == pytest.approx(1e-4)
    assert config.optim.lr * schedule(99) == pytest.approx(1e-6)


def test_encoder_gets_its_own_learning_rate_only_when_fine_tuned() -> None:
    decoder, encoder = torch.nn.Linear(2, 2), torch.nn.Linear(3, 3)
    frozen = build_optimizer(decoder, encoder, TrainConfig())
    assert len(frozen.param_groups) == 1
    config = TrainConfig(freeze_encoder=False)
    tuned = build_optimizer(decoder, encoder, config)
    assert [g["lr"] for g in tuned.param_groups] == [config.optim.lr, config.optim.encoder_lr]


def test_steps_per_epoch_counts_accumulated_micro_batches() -> None:
    config = TrainConfig(batch_size=4, accumulation_steps=2)  # micro-batches of 2
    assert steps_per_epoch(6, config) == 2  # 3 micro-batches -> steps of 2 and 1
    assert steps_per_epoch(8, config) == 2
    assert steps_per_epoch(9, TrainConfig(batch_size=4)) == 3


def test_pad_queries_splits_per_image() -> None:
    embeds = torch.arange(12.0).reshape(6, 2)
    padded, mask = pad_queries(embeds, [1, 3, 2])
    assert padded.shape == (3, 3, 2)
    assert mask.tolist() == [[True, False, False], [True, True, True], [True, True, False]]
    torch.testing.assert_close(padded[1], embeds[1:4])
    assert padded[0, 1:].abs().sum() == 0


# --------------------------------------------------------------------------- training


def test_short_training_lowers_the_loss(small_owlvit_dir, small_scenes_dir, tmp_path) -> None:
    decoder = dataclasses.replace(TINY_MODEL.decoder, n_queries=12, dropout=0.0)
    config = dataclasses.replace(
        _config(small_owlvit_dir, epochs=8, augment=NO_AUGMENT),
        model=dataclasses.replace(TINY_MODEL, encoder_id=str(small_owlvit_dir), decoder=decoder),
        batch_size=3, optim=dataclasses.replace(TINY.optim, lr=2e-3, min_lr=1e-4),
    )
    trainer = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config)
    before = trainer.validate(trainer.train_data)["loss"]
    result = trainer.fit()
    after = trainer.validate(trainer.train_data)["loss"]
    assert result.finished and result.position.step == 16
    assert after < 0.8 * before


def test_resume_continues_bit_exactly(small_owlvit_dir, small_scenes_dir, tmp_path) -> None:
    """Mosaics, flips, jitter and dropout all draw random numbers; stopping after 4 of 6 steps (in
    the middle of epoch 2) and resuming must give the very same parameters as one straight run."""
    config = _config(small_owlvit_dir, epochs=2, augment=AugmentConfig(grids=(1, 2), max_side=200))
    straight = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "straight", config)
    straight.fit()

    first = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "split", config)
    stopped = first.fit(max_steps=4)
    assert not stopped.finished
    assert (stopped.position.epoch, stopped.position.batch_in_epoch, stopped.position.step) == (1, 1, 4)
    resumed = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "split", config)
    result = resumed.fit(resume=True)

    assert result.finished and result.position.step == straight.position.step == 6
    for name, tensor in straight.decoder.state_dict().items():
        assert torch.equal(tensor, resumed.decoder.state_dict()[name]), name
    a, b = straight.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    assert all(torch.equal(a[k]["exp_avg"], b[k]["exp_avg"]) for k in a)
    assert straight.scheduler.get_last_lr() == resumed.scheduler.get_last_lr()


def test_run_folder_holds_config_metrics_and_checkpoints(
    small_owlvit_dir, small_scenes_dir, tmp_path
) -> None:
    config = _config(small_owlvit_dir, epochs=2)
    trainer = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config, val=True)
    result = trainer.fit()
    run = tmp_path / "run"
    assert TrainConfig.from_dict(json.loads((run / "config.json").read_text())) == config
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {e["event"] for e in events} == {"train", "epoch", "val"}
    assert [e["epoch"] for e in events if e["event"] == "val"] == [0, 1]
    assert all(math.isfinite(e["loss"]) for e in events)
    val = result.val
    assert set(val) == {"loss", "acc1_5", "acc1_10", "mapping_iou"}
    assert 0.0 <= val["acc1_5"] <= val["acc1_10"] <= 1.0
    decoder, info = load_decoder(run / "decoder", expected_encoder=trainer.encoder)
    for name, tensor in decoder.state_dict().items():
        assert torch.equal(tensor, trainer.decoder.state_dict()[name].cpu())
    assert info.encoder.model_id == str(small_owlvit_dir)
    assert (run / "decoder-best" / "model.safetensors").is_file()
    assert (run / "train_state.pt").is_file()


def test_training_embeds_and_records_the_configured_query_parts(
    small_owlvit_dir, small_scenes_dir, tmp_path
) -> None:
    config = _config(small_owlvit_dir, epochs=1)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, query_parts="keywords"))
    trainer = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config)
    caption = "the red circle next to a blue square"
    expected = query_phrases(parse_query(caption), "keywords")
    assert caption not in expected and trainer.queries.phrases(caption) == expected
    trainer.fit()
    assert read_checkpoint_info(tmp_path / "run" / "decoder").query_parts == "keywords"


def test_a_run_folder_is_never_overwritten_and_resume_checks_the_config(
    small_owlvit_dir, small_scenes_dir, tmp_path
) -> None:
    config = _config(small_owlvit_dir, epochs=1)
    _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config).fit(max_steps=1)
    with pytest.raises(CheckpointError, match="--resume"):
        _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config).fit()
    other = dataclasses.replace(config, optim=dataclasses.replace(config.optim, lr=5e-4))
    with pytest.raises(CheckpointError, match="optim.lr"):
        _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", other).fit(resume=True)
    with pytest.raises(CheckpointError, match="no training state"):
        _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "empty", config).fit(resume=True)


def test_gradient_accumulation_takes_one_step_per_group(small_owlvit_dir, small_scenes_dir, tmp_path) -> None:
    config = _config(small_owlvit_dir, epochs=1, batch_size=4, accumulation_steps=2)
    result = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config).fit()
    assert result.position.step == 2  # 6 images: micro-batches 2+2 | 2


def test_cached_encodings_are_computed_once_per_image_and_flip(
    small_owlvit_dir, small_scenes_dir, tmp_path
) -> None:
    flips_only = dataclasses.replace(NO_AUGMENT, flip_prob=0.5)
    config = _config(small_owlvit_dir, epochs=3, augment=flips_only, cache_encodings=True)
    trainer = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config)
    encode, calls = trainer.encode, []
    trainer.encode = lambda images: calls.append(len(images)) or encode(images)
    trainer.fit()
    data = trainer.train_data
    seen = {(i, data[(e, i)].flipped) for e in range(3) for i in range(len(data))}
    assert len(seen) > len(data)  # some images were used both ways round
    assert calls == [1] * len(seen)
    sample = data[(1, 0)]
    trainer.decoder.eval()  # no dropout: the two forwards must agree
    cached = trainer.forward([sample], training=True).boxes_cxcywh  # from the cache
    trainer.config = dataclasses.replace(config, cache_encodings=False)
    torch.testing.assert_close(trainer.forward([sample], training=True).boxes_cxcywh, cached)


def test_clipcrop_base_trains_without_captions(small_owlvit_dir, small_scenes_dir, tmp_path) -> None:
    config = _config(small_owlvit_dir, epochs=1, conditioned=False)
    trainer = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config)
    assert all(s.caption is None for s in trainer.train_data.source)
    assert trainer.fit().finished


def test_conditioned_run_without_captions_is_a_clear_error(
    small_owlvit_dir, small_scenes_dir, tmp_path
) -> None:
    config = _config(small_owlvit_dir, epochs=1)
    encoder = OwlViTEncoder.from_pretrained(str(small_owlvit_dir))
    data = CropTrainDataset(GaicDataset(small_scenes_dir, "train"), config.augment)
    with pytest.raises(PromptcropError, match="caption"):
        Trainer(config, encoder, data, tmp_path / "run", progress=False).fit()


def test_mismatched_token_width_is_a_clear_error(small_owlvit_dir, small_scenes_dir, tmp_path) -> None:
    wide = dataclasses.replace(TINY_MODEL.decoder, token_dim=64)
    model = dataclasses.replace(TINY_MODEL, encoder_id=str(small_owlvit_dir), decoder=wide)
    config = dataclasses.replace(_config(small_owlvit_dir), model=model)
    with pytest.raises(ValueError, match="token_dim"):
        _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config)


def test_fine_tuning_the_encoder_trains_and_saves_it(small_owlvit_dir, small_scenes_dir, tmp_path) -> None:
    config = _config(small_owlvit_dir, epochs=1, freeze_encoder=False)
    trainer = _trainer(small_owlvit_dir, small_scenes_dir, tmp_path / "run", config)
    before = {k: v.clone() for k, v in trainer.encoder.model.state_dict().items()}
    trainer.fit()
    after = trainer.encoder.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    saved = OwlViTEncoder.from_pretrained(str(tmp_path / "run" / "encoder"))
    assert torch.equal(saved.model.class_head.dense0.weight, trainer.encoder.model.class_head.dense0.weight)
    _, info = load_decoder(tmp_path / "run" / "decoder", expected_encoder=saved)
    assert info.encoder.model_id == str(tmp_path / "run" / "encoder")


# --------------------------------------------------------------------------- the command


def _train_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def test_train_command_runs_and_resumes(small_owlvit_dir, small_scenes_dir, tmp_path, capsys) -> None:
    config_file = save_train_config(_config(small_owlvit_dir, epochs=2), tmp_path / "cfg.json")
    run = tmp_path / "run"
    common = ["--data-root", str(small_scenes_dir), "--text-labels", str(small_scenes_dir / "text"),
              "--preset", "tiny", "--out", str(run), "--device", "cpu", "--quiet"]
    args = _train_args([*common, "--config", str(config_file), "--max-steps", "4"])
    assert args.handler is run_train
    assert run_train(args) == 0
    assert "continue with --resume" in capsys.readouterr().out
    assert run_train(_train_args([*common, "--resume", "--cache-images"])) == 0  # reuses run/config.json
    out = capsys.readouterr().out
    assert "finished: 2/2 epochs, 6 optimiser steps" in out and "Acc1/5" in out


def test_train_command_needs_text_labels(small_owlvit_dir, small_scenes_dir, tmp_path) -> None:
    args = _train_args(["--data-root", str(small_scenes_dir), "--preset", "tiny",
                        "--encoder", str(small_owlvit_dir), "--out", str(tmp_path / "run")])
    with pytest.raises(PromptcropError, match="--text-labels"):
        run_train(args)


def test_adamw_is_fused_for_float_parameters_and_takes_the_same_step() -> None:
    torch.manual_seed(0)
    weights = torch.randn(5, 3)
    grad = torch.randn(5, 3)
    steps = {}
    for fused in (True, False):
        param = torch.nn.Parameter(weights.clone())
        optimizer = adamw([param], lr=0.1, weight_decay=0.01) if fused else \
            torch.optim.AdamW([param], lr=0.1, weight_decay=0.01)
        assert bool(optimizer.defaults["fused"]) is fused
        for _ in range(3):
            param.grad = grad.clone()
            optimizer.step()
        steps[fused] = param.detach()
    torch.testing.assert_close(steps[True], steps[False], rtol=1e-6, atol=1e-6)
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))], "lr": 0.1}]
    assert not adamw(groups, lr=0.1, weight_decay=0.0).defaults["fused"]
