"""Training config: the paper preset is Appendix B, JSON round trips, override files, validation."""

from __future__ import annotations

import dataclasses
import json

import pytest

from promptcrop.train.config import (
    PAPER,
    LossConfig,
    OptimConfig,
    TrainConfig,
    get_train_preset,
    load_train_config,
    merge_overrides,
    save_train_config,
)


def test_paper_preset_is_appendix_b() -> None:
    config = get_train_preset("paper")
    assert config is PAPER
    # Optimiser: AdamW (see test_engine), cosine 1e-4 -> 1e-6, batch 32, 180 epochs.
    assert (config.optim.lr, config.optim.min_lr) == (1e-4, 1e-6)
    assert config.batch_size == 32 and config.epochs == 180
    # Encoder: OWL-ViT ViT-B/32, frozen (our default); full text + keywords (paper Table 4 best).
    assert config.model.encoder_id == "google/owlvit-base-patch32"
    assert config.freeze_encoder and config.conditioned
    assert config.model.query_parts == "both"
    # Decoder: 6 layers, width 512, 8 heads, MLP 2048, 90 queries, on 768-wide B/32 tokens.
    d = config.model.decoder
    assert (d.n_layers, d.d_model, d.n_heads, d.ffn_dim, d.n_queries, d.token_dim) == (6, 512, 8, 2048, 90, 768)
    # Augmentation: 1x1 / 2x2 / 3x3 mosaics with equal probability, colour jitter and flips.
    assert config.augment.grids == (1, 2, 3)
    assert config.augment.flip_prob > 0
    assert min(config.augment.brightness, config.augment.contrast, config.augment.saturation) > 0
    assert config.filter_grounding and config.filter_min_cover == 0.5
    # Losses of Jia et al.: L1 5, GIoU 2, score 1; matching 2 score + 5 L1 + 2 GIoU; aux losses.
    assert config.loss.weights == {"loss_l1": 5.0, "loss_giou": 2.0, "loss_score": 1.0}
    assert (config.loss.cost_score, config.loss.cost_l1, config.loss.cost_giou) == (2.0, 5.0, 2.0)
    assert config.loss.aux_loss and config.loss.redundancy_iou == 0.9


def test_tiny_preset_inherits_the_paper_and_changes_only_the_size() -> None:
    tiny = get_train_preset("tiny")
    assert tiny.model.decoder.d_model < PAPER.model.decoder.d_model
    assert tiny.epochs < PAPER.epochs and tiny.batch_size < PAPER.batch_size
    assert tiny.optim == PAPER.optim and tiny.loss == PAPER.loss
    assert tiny.augment.grids == PAPER.augment.grids


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="paper"):
        get_train_preset("huge")


def test_json_round_trip_is_exact() -> None:
    config = dataclasses.replace(PAPER, epochs=7, optim=dataclasses.replace(PAPER.optim, lr=3e-4))
    data = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(data) == config


def test_override_file_merges_nested_groups(tmp_path) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"epochs": 20, "optim": {"lr": 2e-4}, "augment": {"grids": [1, 2]}}))
    config = load_train_config(path, preset="paper")
    assert config.epochs == 20 and config.optim.lr == 2e-4
    assert config.optim.min_lr == PAPER.optim.min_lr  # untouched sibling key kept
    assert config.augment.grids == (1, 2)
    assert config.model == PAPER.model


def test_resolved_config_file_reloads_to_the_same_config(tmp_path) -> None:
    config = dataclasses.replace(get_train_preset("tiny"), seed=5)
    path = save_train_config(config, tmp_path / "run" / "config.json")
    assert load_train_config(path, preset="paper") == config


def test_unknown_key_in_file_names_file_and_key(tmp_path) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"optim": {"learning_rate": 1e-3}}))
    with pytest.raises(ValueError, match=r"cfg\.json.*learning_rate"):
        load_train_config(path)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_malformed_file_is_a_clear_error(tmp_path, text) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="cfg.json"):
        load_train_config(path)


def test_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="not found"):
        load_train_config(tmp_path / "nope.json")


@pytest.mark.parametrize(
    "changes",
    [
        {"batch_size": 32, "accumulation_steps": 5},
        {"epochs": 0},
        {"seed": -1},
        {"amp": "yes"},
        {"filter_min_cover": 0.0},
    ],
)
def test_invalid_train_values_raise(changes) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(PAPER, **changes)


@pytest.mark.parametrize(
    "cls, changes",
    [
        (OptimConfig, {"lr": 0.0}),
        (OptimConfig, {"min_lr": 1e-3}),  # above lr
        (OptimConfig, {"warmup_steps": -1}),
        (OptimConfig, {"grad_clip": float("nan")}),
        (LossConfig, {"weight_l1": -1.0}),
        (LossConfig, {"redundancy_iou": 0.0}),
    ],
)
def test_invalid_group_values_raise(cls, changes) -> None:
    with pytest.raises(ValueError):
        cls(**changes)


def test_encoding_cache_needs_images_that_depend_only_on_the_flip() -> None:
    still = dataclasses.replace(
        PAPER.augment, grids=(1,), brightness=0.0, contrast=0.0, saturation=0.0
    )
    assert dataclasses.replace(PAPER, augment=still, cache_encodings=True).cache_encodings
    with pytest.raises(ValueError, match="mosaics are on"):
        dataclasses.replace(PAPER, cache_encodings=True)
    with pytest.raises(ValueError, match="fine-tuned"):
        dataclasses.replace(PAPER, augment=still, cache_encodings=True, freeze_encoder=False)


def test_micro_batch_size_follows_accumulation() -> None:
    config = dataclasses.replace(PAPER, batch_size=32, accumulation_steps=4)
    assert config.micro_batch_size == 8


def test_merge_overrides_keeps_unknown_keys_for_validation() -> None:
    merged = merge_overrides({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}, "z": 1})
    assert merged == {"a": {"b": 3, "c": 2}, "z": 1}


def test_older_query_keys_in_override_files_mean_query_parts(tmp_path) -> None:
    """Override files written before ``query_parts`` existed used two booleans."""
    path = tmp_path / "main.json"
    path.write_text(json.dumps({"model": {"use_keywords": False}}))
    assert load_train_config(path).model.query_parts == "text"
    assert load_train_config(overrides={"model": {"use_full_text": False}}).model.query_parts == "keywords"
    path.write_text(json.dumps({"model": {"use_keywords": False, "query_parts": "keywords"}}))
    with pytest.raises(ValueError, match=r"main\.json.*contradicts"):
        load_train_config(path)


def test_resolved_config_of_an_older_run_still_loads(tmp_path) -> None:
    data = PAPER.to_dict()
    del data["model"]["query_parts"]
    data["model"].update(use_full_text=False, use_keywords=True)
    assert TrainConfig.from_dict(data).model.query_parts == "keywords"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    assert load_train_config(path, preset="tiny").model.query_parts == "keywords"
