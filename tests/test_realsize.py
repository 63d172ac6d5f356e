"""Real-size OWL-ViT B/32 (random weights) through the whole Predictor — slow, `make test-slow`.

Same architecture, shapes and compute as google/owlvit-base-patch32; only the weights are random.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_dirs(tmp_path_factory):
    import torch

    from promptcrop.config import get_preset
    from promptcrop.model.checkpoint import EncoderInfo, save_decoder
    from promptcrop.model.decoder import ClipCropDecoder
    from promptcrop.model.encoder import OwlViTEncoder
    from promptcrop.testing import build_owlvit_dir

    root = tmp_path_factory.mktemp("realsize")
    model_dir = build_owlvit_dir(root / "owlvit-base", size="base", seed=0)
    encoder = OwlViTEncoder.from_pretrained(str(model_dir))
    torch.manual_seed(0)
    decoder_dir = save_decoder(
        ClipCropDecoder(get_preset("paper").decoder), root / "decoder",
        encoder_info=EncoderInfo.from_encoder(encoder), preset="paper",
    )
    return model_dir, decoder_dir


def test_real_size_encoder_has_the_b32_geometry(base_dirs):
    from promptcrop.model.encoder import OwlViTEncoder

    encoder = OwlViTEncoder.from_pretrained(str(base_dirs[0]))
    assert (encoder.token_dim, encoder.embed_dim, encoder.grid_hw) == (768, 512, (24, 24))
    enc = encoder.encode_images(encoder.preprocess([np.zeros((300, 500, 3), np.uint8)]))
    assert tuple(enc.tokens.shape) == (1, 576, 768)
    assert tuple(enc.boxes_cxcywh.shape) == (1, 576, 4)


def test_real_size_clipcrop_prediction(base_dirs):
    from promptcrop import Predictor

    predictor = Predictor(model=str(base_dirs[0]), decoder=str(base_dirs[1]), local_files_only=True)
    image = np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    prediction = predictor.predict(image, query="a dog, a cat and a bird", k=3, aspect="1:1")
    assert prediction.mode == "clipcrop" and 1 <= len(prediction) <= 3
    for crop in prediction:
        x1, y1, x2, y2 = crop.box
        assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 360
        assert abs(crop.width - crop.height) <= 1
