import numpy as np
import pytest

from promptcrop.errors import InternalError
import torch

from promptcrop.config import TINY
from promptcrop.decoder import ClipCropDecoder, DecoderConfig
from promptcrop.encoder import OwlViTEncoder
from promptcrop.model import ClipCropModel, ClipCropOutput

WHOLE_IMAGE = torch.tensor([0.5, 0.5, 1.0, 1.0])


@pytest.fixture(scope="module")
def encoder(tiny_owlvit_dir) -> OwlViTEncoder:
    return OwlViTEncoder.from_pretrained(str(tiny_owlvit_dir), local_files_only=True)


@pytest.fixture
def model(encoder) -> ClipCropModel:
    torch.manual_seed(0)
    return ClipCropModel(encoder, ClipCropDecoder(TINY.decoder)).eval()


@pytest.fixture(scope="module")
def pixel_values(encoder) -> torch.Tensor:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (120, 200, 3), dtype=np.uint8),
              rng.integers(0, 256, (90, 60, 3), dtype=np.uint8)]
    return encoder.preprocess(images)


@pytest.fixture(scope="module")
def text_queries(encoder) -> tuple[torch.Tensor, torch.Tensor]:
    """``[2, 3, C]`` text embeddings (full text + keywords) and a ``[2, 3]`` mask padding image 1."""
    embeds = encoder.embed_texts(["three white dogs on the boat", "dogs", "the boat"]).embeds
    query_embeds = embeds[None].repeat(2, 1, 1)
    query_mask = torch.tensor([[True, True, True], [True, True, False]])
    return query_embeds, query_mask


def test_text_conditioned_forward_shapes(model, encoder, pixel_values, text_queries):
    with torch.no_grad():
        out = model(pixel_values, *text_queries)
    assert isinstance(out, ClipCropOutput)
    P, D, M = 576, encoder.token_dim, TINY.decoder.n_queries
    assert out.encoding.tokens.shape == (2, P, D) and out.encoding.grid_hw == (24, 24)
    g = out.grounding
    assert g.tokens.shape == (2, 3, D) and g.boxes_cxcywh.shape == (2, 3, 4)
    assert g.mask.tolist() == text_queries[1].tolist()
    assert out.decoder.boxes_cxcywh.shape == (2, M, 4) and out.decoder.scores.shape == (2, M)
    assert out.decoder.layer_boxes_cxcywh.shape == (TINY.decoder.n_layers, 2, M, 4)
    # untrained decoder (zero-initialised offsets): every crop is the grounded union box b_u
    expected = g.union_cxcywh[:, None, :].expand(2, M, 4)
    torch.testing.assert_close(out.decoder.layer_boxes_cxcywh[-1], expected)


def test_base_variant_without_query(model, pixel_values):
    with torch.no_grad():
        out = model(pixel_values)
    assert out.grounding.tokens.shape[1] == 0
    torch.testing.assert_close(out.grounding.union_cxcywh, WHOLE_IMAGE.expand(2, 4))
    torch.testing.assert_close(out.decoder.boxes_cxcywh, WHOLE_IMAGE.expand(2, 90, 4))
    with pytest.raises(InternalError, match="query_mask"):
        model(pixel_values, None, torch.ones(2, 3, dtype=torch.bool))


def test_decode_on_cached_encoding_equals_forward(model, pixel_values, text_queries):
    with torch.no_grad():
        model.decoder.box_head[-1].weight.normal_(0.0, 0.1)  # non-trivial offsets
        full = model(pixel_values, *text_queries)
        again = model.decode(full.encoding, model.ground(full.encoding, *text_queries))
    torch.testing.assert_close(again.layer_boxes_cxcywh, full.decoder.layer_boxes_cxcywh)
    torch.testing.assert_close(again.scores, full.decoder.scores)


def test_train_mode_trains_the_decoder_only(model, encoder, pixel_values, text_queries):
    model.train()
    assert model.decoder.training
    assert not any(m.training for m in encoder.modules())
    assert not any(p.requires_grad for p in encoder.parameters())
    out = model(pixel_values, *text_queries)
    (out.decoder.layer_boxes_cxcywh.sum() + out.decoder.layer_scores.sum()).backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert model.decoder.box_head[-1].weight.grad.abs().sum() > 0
    model.eval()


def test_token_width_mismatch_is_refused(encoder):
    with pytest.raises(InternalError, match="token"):
        ClipCropModel(encoder, ClipCropDecoder(DecoderConfig(token_dim=64, d_model=32, n_heads=4,
                                                             n_layers=1, ffn_dim=32, n_queries=4)))


def test_save_and_load_decoder_for_this_encoder(tmp_path, model, encoder, pixel_values):
    with torch.no_grad():
        model.decoder.score_head.bias.fill_(1.5)
    path = model.save_decoder(tmp_path / "decoder", preset="tiny")
    loaded = ClipCropModel.from_pretrained(path, encoder)
    with torch.no_grad():
        assert torch.equal(loaded(pixel_values).decoder.scores, model(pixel_values).decoder.scores)
