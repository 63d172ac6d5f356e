"""The ClipCrop decoder: a DETR-like transformer decoder regressing crops around the union box.

Paper eq. (2)–(3), described in docs/METHOD.md, "Decoder": M learnable query tokens ``t_qry``
plus the mean of the grounded image tokens form the queries; keys and values are all image tokens
with a 2-D sine positional encoding; two heads shared by every layer predict box offsets ``b_ofs``
and quality scores ``s`` so that ``b_pred = b_u + b_ofs`` in normalised cxcywh.

Layer layout follows DETR (Carion et al. 2020, ``models/transformer.py``, default post-norm):

- the decoder state starts at zero and the query embedding ``Q`` is added to the state at every
  layer, as DETR adds its ``query_pos`` (to self-attention queries/keys and cross-attention queries);
- the positional encoding is added to the cross-attention *keys* only, never to the values;
- each layer is self-attention → cross-attention → FFN, each followed by dropout, residual and
  LayerNorm (post-norm: ``norm_first=False`` in ``torch.nn.TransformerDecoderLayer`` terms);
- a final LayerNorm is applied to every layer's output before the shared heads (DETR's aux outputs).

The last layer of the offset head is initialised to zero, so an untrained decoder predicts exactly
``b_u`` for every query: training starts from the grounded region rather than from random boxes.

The shape lives in :class:`promptcrop.config.DecoderConfig` (re-exported here); saving and loading
are :func:`promptcrop.model.checkpoint.save_decoder` / :func:`promptcrop.model.checkpoint.load_decoder`. The
imports run one way only — config ← decoder ← checkpoint — so none of them imports another lazily.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from promptcrop.backends.base import DecoderOutput
from promptcrop.boxes import clamp_xyxy, cxcywh_to_xyxy, xyxy_to_cxcywh
from promptcrop.config import DecoderConfig
from promptcrop.errors import InternalError

if TYPE_CHECKING:
    from promptcrop.backends.base import ImageEncoding
    from promptcrop.model.grounding import Grounding

__all__ = ["ClipCropDecoder", "DecoderConfig", "DecoderOutput", "sine_position_encoding"]

POS_TEMPERATURE = 10000.0
"""Temperature of the sine positional encoding (DETR's default)."""


def sine_position_encoding(
    grid_hw: tuple[int, int], dim: int, *, device: torch.device | None = None
) -> torch.Tensor:
    """DETR's normalised 2-D sine encoding of a ``(gh, gw)`` grid → ``[gh * gw, dim]`` (row-major).

    Same maths as DETR's ``PositionEmbeddingSine(dim // 2, normalize=True)`` without a mask:
    positions 1..n scaled to (0, 2π], the first ``dim / 2`` channels encode y, the rest x, each as
    interleaved sin/cos at temperatures ``10000 ** (2 * (i // 2) / (dim / 2))``.
    """
    return _cached_sine_encoding(int(grid_hw[0]), int(grid_hw[1]), dim, device)


@functools.lru_cache(maxsize=16)
def _cached_sine_encoding(gh: int, gw: int, dim: int, device: torch.device | None) -> torch.Tensor:
    # Built outside inference mode so the cached tensor is usable in training too; callers never
    # modify it in place.
    with torch.inference_mode(False), torch.no_grad():
        return _sine_encoding(gh, gw, dim, device)


def _sine_encoding(gh: int, gw: int, dim: int, device: torch.device | None) -> torch.Tensor:
    half = dim // 2
    eps = 1e-6
    y = torch.arange(1, gh + 1, dtype=torch.float32, device=device) / (gh + eps) * 2 * math.pi
    x = torch.arange(1, gw + 1, dtype=torch.float32, device=device) / (gw + eps) * 2 * math.pi
    i = torch.arange(half, dtype=torch.float32, device=device)
    dim_t = POS_TEMPERATURE ** (2 * torch.div(i, 2, rounding_mode="floor") / half)  # [half]

    def encode(pos: torch.Tensor) -> torch.Tensor:  # [n] -> [n, half]
        angles = pos[:, None] / dim_t
        return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=2).flatten(1)

    pos_y = encode(y)[:, None, :].expand(gh, gw, half)
    pos_x = encode(x)[None, :, :].expand(gh, gw, half)
    return torch.cat((pos_y, pos_x), dim=2).reshape(gh * gw, dim)


def _clamp_to_image(boxes_cxcywh: torch.Tensor, min_size: float) -> torch.Tensor:
    """``[..., 4]`` normalised cxcywh → the same boxes clipped to [0, 1]², sides ≥ ``min_size``."""
    xyxy = clamp_xyxy(cxcywh_to_xyxy(boxes_cxcywh), 1.0, 1.0)
    low = torch.clamp(xyxy[..., :2], max=1.0 - min_size)
    high = torch.maximum(xyxy[..., 2:], low + min_size)
    return xyxy_to_cxcywh(torch.cat((low, high), dim=-1))


class _MLP(nn.Sequential):
    """``n_layers`` Linear layers with ReLU between them (DETR's box MLP)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, n_layers: int) -> None:
        dims = [in_dim] + [hidden_dim] * (n_layers - 1)
        layers: list[nn.Module] = []
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(d_in, d_out), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], out_dim))
        super().__init__(*layers)


class _DecoderLayer(nn.Module):
    """One post-norm DETR decoder layer (self-attn, cross-attn with positions on keys, FFN)."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        d, p = config.d_model, config.dropout
        self.self_attn = nn.MultiheadAttention(d, config.n_heads, dropout=p, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, config.n_heads, dropout=p, batch_first=True)
        self.ffn = nn.Sequential(
            nn.Linear(d, config.ffn_dim), nn.ReLU(), nn.Dropout(p), nn.Linear(config.ffn_dim, d)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(3))
        self.dropouts = nn.ModuleList(nn.Dropout(p) for _ in range(3))

    def forward(
        self,
        state: torch.Tensor,
        query_pos: torch.Tensor,
        memory: torch.Tensor,
        keys: torch.Tensor,
        projected_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``state``/``query_pos`` ``[B, M, d]``; ``memory`` ``[B, P, d]``; ``keys`` = memory +
        positions ``[B, P, d]``. ``projected_kv``: this layer's cross-attention keys and values
        already projected (``[B, P, d]`` each, see :meth:`cross_kv_weights`) — the inference path
        that projects all layers in one matrix product; same maths as ``cross_attn``."""
        q = state + query_pos
        state = self._residual(0, state, self.self_attn(q, q, state, need_weights=False)[0])
        if projected_kv is None:
            attended = self.cross_attn(state + query_pos, keys, memory, need_weights=False)[0]
        else:
            attended = self._cross_attend(state + query_pos, *projected_kv)
        state = self._residual(1, state, attended)
        return self._residual(2, state, self.ffn(state))

    def cross_kv_weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(W_k, b_k, W_v, b_v)`` of the cross-attention's packed input projection."""
        d = self.cross_attn.embed_dim
        w, b = self.cross_attn.in_proj_weight, self.cross_attn.in_proj_bias
        return w[d : 2 * d], b[d : 2 * d], w[2 * d :], b[2 * d :]

    def _cross_attend(self, query: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Multi-head attention of ``query [B, M, d]`` over projected ``k``/``v`` ``[B, P, d]``
        (eval only: no attention dropout), equal to ``nn.MultiheadAttention`` with those weights."""
        attn = self.cross_attn
        d, heads = attn.embed_dim, attn.num_heads
        q = nn.functional.linear(query, attn.in_proj_weight[:d], attn.in_proj_bias[:d])

        def split(x: torch.Tensor) -> torch.Tensor:  # [B, n, d] -> [B, heads, n, d / heads]
            return x.unflatten(-1, (heads, d // heads)).transpose(1, 2)

        out = nn.functional.scaled_dot_product_attention(split(q), split(k), split(v))
        return attn.out_proj(out.transpose(1, 2).flatten(2))

    def _residual(self, i: int, state: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        return self.norms[i](state + self.dropouts[i](update))


class ClipCropDecoder(nn.Module):
    """ClipCrop's DETR-like decoder (docs/METHOD.md, "Decoder"). The module docstring gives the
    layer layout.

    Parameters: ``input_proj`` (LayerNorm + Linear, D → d_model) shared by all image tokens and the
    selected tokens; ``query_embed`` (``t_qry``, ``[M, d_model]``); ``layers``; ``final_norm``;
    ``box_head`` (3-layer MLP → 4 offsets, last layer zero-initialised); ``score_head``
    (Linear → 1, sigmoid). 26,194,437 parameters with the paper preset.
    """

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.input_proj = nn.Sequential(nn.LayerNorm(config.token_dim), nn.Linear(config.token_dim, d))
        self.query_embed = nn.Parameter(torch.empty(config.n_queries, d))
        self.layers = nn.ModuleList(_DecoderLayer(config) for _ in range(config.n_layers))
        self.final_norm = nn.LayerNorm(d)
        self.box_head = _MLP(d, d, 4, 3)
        self.score_head = nn.Linear(d, 1)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for layer in self.layers:  # DETR: xavier on the transformer's matrices
            for param in layer.parameters():
                if param.dim() > 1:
                    nn.init.xavier_uniform_(param)
        nn.init.normal_(self.query_embed)  # as nn.Embedding, DETR's query_embed
        last = self.box_head[-1]
        nn.init.zeros_(last.weight)  # untrained decoder: b_ofs = 0, b_pred = b_u
        nn.init.zeros_(last.bias)

    def forward(
        self,
        tokens: torch.Tensor,
        grid_hw: tuple[int, int],
        selected_tokens: torch.Tensor,
        selected_mask: torch.Tensor,
        union_cxcywh: torch.Tensor,
        *,
        all_layers: bool = True,
    ) -> DecoderOutput:
        """Predict M crops per image.

        ``tokens``: ``[B, P, D]`` image tokens, P = gh * gw in row-major grid order.
        ``grid_hw``: ``(gh, gw)``. ``selected_tokens``: ``[B, W, D]`` grounded tokens (W may be 0).
        ``selected_mask``: ``[B, W]`` bool, True where the selection is valid.
        ``union_cxcywh``: ``[B, 4]`` anchor box ``b_u``, normalised cxcywh.
        ``all_layers``: run the heads on every layer (the auxiliary losses need them); False runs
        them on the last layer only (inference: the same final boxes and scores, ~5 % less work
        with the paper preset), and the ``layer_*`` outputs then hold that one layer (L = 1).
        """
        self._check_inputs(tokens, grid_hw, selected_tokens, selected_mask, union_cxcywh)
        hidden = self.hidden_states(tokens, grid_hw, selected_tokens, selected_mask)  # [L, B, M, d]
        hidden = hidden if all_layers else hidden[-1:]
        offsets = self.box_head(hidden)  # [L, B, M, 4]
        layer_boxes = union_cxcywh.to(offsets.dtype)[None, :, None, :] + offsets
        layer_scores = self.score_head(hidden).squeeze(-1).sigmoid()  # [L, B, M]
        return DecoderOutput(
            boxes_cxcywh=_clamp_to_image(layer_boxes[-1], self.config.min_box_size),
            scores=layer_scores[-1],
            layer_boxes_cxcywh=layer_boxes,
            layer_scores=layer_scores,
        )

    def decode(self, encoding: ImageEncoding, grounding: Grounding) -> DecoderOutput:
        """Inference on an encoding and its grounding (the backends' ``Decoder`` interface):
        final ``boxes_cxcywh [B, M, 4]`` and ``scores [B, M]``, heads on the last layer only."""
        return self(
            encoding.tokens, encoding.grid_hw, grounding.tokens, grounding.mask, grounding.union_cxcywh,
            all_layers=False,
        )

    def hidden_states(
        self,
        tokens: torch.Tensor,
        grid_hw: tuple[int, int],
        selected_tokens: torch.Tensor,
        selected_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Normalised output of every layer, ``[L, B, M, d_model]``, which the heads read."""
        memory = self.input_proj(tokens)  # [B, P, d]
        memory_pos = sine_position_encoding(grid_hw, self.config.d_model, device=tokens.device)
        keys = memory + memory_pos.to(memory.dtype)  # positions on keys only, as DETR
        query_pos = self.query_embed[None] + self._condition(selected_tokens, selected_mask)[:, None]
        state = torch.zeros_like(query_pos)  # [B, M, d]
        projected = self._project_all_kv(memory, keys) if not self.training else None
        outputs = []
        for i, layer in enumerate(self.layers):
            kv = None if projected is None else (projected[0][i], projected[1][i])
            state = layer(state, query_pos, memory, keys, kv)
            outputs.append(self.final_norm(state))
        return torch.stack(outputs)

    def _project_all_kv(
        self, memory: torch.Tensor, keys: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Cross-attention keys and values of every layer in two matrix products (inference).

        The per-layer projections of the same ``[B, P, d]`` inputs are stacked into one
        ``[d, L * d]`` weight, which is faster on CPU than L separate products. Returns per-layer
        lists of ``[B, P, d]`` keys and values.
        """
        weights = [layer.cross_kv_weights() for layer in self.layers]
        k_all = nn.functional.linear(keys, torch.cat([w[0] for w in weights]), torch.cat([w[1] for w in weights]))
        v_all = nn.functional.linear(memory, torch.cat([w[2] for w in weights]), torch.cat([w[3] for w in weights]))
        d = self.config.d_model
        return list(k_all.split(d, dim=-1)), list(v_all.split(d, dim=-1))

    def _condition(self, selected_tokens: torch.Tensor, selected_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the projected valid selected tokens, ``[B, d]``; zero where there is none."""
        batch = selected_tokens.shape[0]
        if selected_tokens.shape[1] == 0:
            return selected_tokens.new_zeros(batch, self.config.d_model)
        weights = selected_mask.to(selected_tokens.dtype)[..., None]  # [B, W, 1]
        projected = self.input_proj(selected_tokens) * weights  # [B, W, d]
        return projected.sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

    def _check_inputs(
        self,
        tokens: torch.Tensor,
        grid_hw: tuple[int, int],
        selected_tokens: torch.Tensor,
        selected_mask: torch.Tensor,
        union_cxcywh: torch.Tensor,
    ) -> None:
        dim = self.config.token_dim
        if tokens.dim() != 3 or tokens.shape[2] != dim:
            raise InternalError(f"tokens must be [B, P, {dim}], got {list(tokens.shape)}")
        batch, n_tokens = tokens.shape[:2]
        gh, gw = grid_hw
        if gh * gw != n_tokens:
            raise InternalError(f"grid_hw {tuple(grid_hw)} does not match P = {n_tokens} tokens")
        if selected_tokens.dim() != 3 or selected_tokens.shape[0] != batch or selected_tokens.shape[2] != dim:
            raise InternalError(
                f"selected_tokens must be [{batch}, W, {dim}], got {list(selected_tokens.shape)}"
            )
        if selected_mask.dtype != torch.bool or selected_mask.shape != selected_tokens.shape[:2]:
            raise InternalError(
                f"selected_mask must be a bool tensor of shape {list(selected_tokens.shape[:2])}, "
                f"got {selected_mask.dtype} {list(selected_mask.shape)}"
            )
        if union_cxcywh.shape != (batch, 4):
            raise InternalError(f"union_cxcywh must be [{batch}, 4], got {list(union_cxcywh.shape)}")
