"""Shared fixtures: offline guard, a tiny OWL-ViT directory, a network blocker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _offline_hub() -> Iterator[None]:
    """Every test runs with the Hugging Face Hub offline (env vars and the already-read constant)."""
    import huggingface_hub.constants

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield


@pytest.fixture(scope="session")
def tiny_owlvit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete tiny OWL-ViT directory (byte vocabulary, seed 0), built once per session."""
    from promptcrop.testing import build_owlvit_dir

    return build_owlvit_dir(tmp_path_factory.mktemp("tiny-owlvit"))


@pytest.fixture(scope="session")
def small_owlvit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny OWL-ViT at 256 px (8 x 8 = 64 image tokens, byte vocabulary): fast training steps."""
    from promptcrop.testing import build_owlvit_dir

    return build_owlvit_dir(tmp_path_factory.mktemp("small-owlvit"), image_size=256)


@pytest.fixture(scope="session")
def small_scenes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic scenes in the GAIC layout (6 train, 3 val, about 100 px) with captions
    (``text/``) and object boxes (``objects/``), for short training runs."""
    from promptcrop.train.synthetic import SyntheticConfig, write_gaic_dataset

    scenes = SyntheticConfig(width_range=(96, 128), height_range=(96, 128))
    return write_gaic_dataset(tmp_path_factory.mktemp("scenes"), scenes, {"train": 6, "val": 3})


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"test tried to open a network connection: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def detectors_settled() -> None:
    """The offline predictor builds its detectors in a background thread: wait until that is done,
    so that a test replacing a detector's process-wide state is not raced by it."""
    from promptcrop.saliency import warm_up_detectors

    warm_up_detectors()()
