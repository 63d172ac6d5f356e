"""Attention fusion for exported graphs: ONNX Runtime's ``MultiHeadAttention`` in place of the
exporter's unfused scaled dot-product attention.

``torch.onnx.export`` writes OWL-ViT's vision attention as reshapes and transposes of the query,
key and value projections ``[B, S, H·Dh]``, a scaled ``MatMul``, ``Softmax``, a second ``MatMul``
and the transposes back. ONNX Runtime runs those as separate float32 kernels even when the
projections are int8; its ``com.microsoft.MultiHeadAttention`` contrib operator computes the same
``softmax(Q Kᵀ · scale) V`` in one CPU kernel (its speed-up is measured in docs/ONNX.md). Only attention without a mask or bias is fused (the image tower); anything else —
masked text or decoder attention — is left as it is. The export-time comparison with PyTorch
judges the result like any other graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MS_DOMAIN = "com.microsoft"
_HEAD_PERM = [0, 2, 1, 3]  # [B, S, H, Dh] ↔ [B, H, S, Dh]


class _Graph:
    """Producer / consumer / constant look-ups over an ``onnx.GraphProto``."""

    def __init__(self, graph: Any) -> None:
        from onnx import numpy_helper

        self.graph = graph
        self.producer = {out: node for node in graph.node for out in node.output}
        self.consumers: dict[str, list[Any]] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self._to_array = numpy_helper.to_array
        self.initializers = {t.name: t for t in graph.initializer}

    def const(self, name: str) -> np.ndarray | None:
        if name in self.initializers:
            return self._to_array(self.initializers[name])
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            return self._to_array(node.attribute[0].t)
        return None

    def up(self, name: str, op_type: str) -> Any:
        """The node producing ``name``; ``LookupError`` unless it is an ``op_type`` of the ONNX domain."""
        node = self.producer.get(name)
        if node is None or node.op_type != op_type or node.domain not in ("", "ai.onnx"):
            raise LookupError(f"{name}: not produced by {op_type}")
        return node

    def only_consumer(self, name: str, op_type: str) -> Any:
        users = self.consumers.get(name, [])
        if len(users) != 1 or users[0].op_type != op_type:
            raise LookupError(f"{name}: not read by one {op_type} only")
        return users[0]


def _perm(node: Any) -> list[int]:
    from onnx import helper

    return next((list(helper.get_attribute_value(a)) for a in node.attribute if a.name == "perm"), [])


def _scalar(value: np.ndarray | None) -> float:
    if value is None or value.size != 1:
        raise LookupError("attention scale is not a constant scalar")
    return float(value.reshape(-1)[0])


def _match(g: _Graph, softmax: Any) -> tuple[list[str], str, int, float, Any]:
    """``([query, key, value] [B, S, H·Dh], output [B, S, H·Dh], heads, scale, output node)`` of the
    unmasked attention around ``softmax``; ``LookupError`` for any other shape of graph."""
    from onnx import helper

    axis = next((helper.get_attribute_value(a) for a in softmax.attribute if a.name == "axis"), -1)
    if axis not in (-1, 3):
        raise LookupError("softmax not over the keys")
    scores = g.up(softmax.input[0], "MatMul")
    q_scaled, k_scaled = g.up(scores.input[0], "Mul"), g.up(scores.input[1], "Mul")
    q_heads = g.up(q_scaled.input[0], "Transpose")
    q_split = g.up(q_heads.input[0], "Reshape")
    mixed = g.only_consumer(softmax.output[0], "MatMul")
    if mixed.input[0] != softmax.output[0]:
        raise LookupError("softmax output is not the left operand")
    v_heads = g.up(mixed.input[1], "Transpose")
    v_split = g.up(v_heads.input[0], "Reshape")
    back = g.only_consumer(mixed.output[0], "Transpose")
    merged = g.only_consumer(back.output[0], "Reshape")
    if any(_perm(n) != _HEAD_PERM for n in (q_heads, v_heads, back)):
        raise LookupError("head transposes differ")
    # the key side: reshapes and transposes from the projection [B, S, H·Dh] to [B, H, Dh, S]
    node, hops = g.producer.get(k_scaled.input[0]), 0
    k_split = None
    while node is not None and node.op_type in ("Reshape", "Transpose") and hops < 8:
        k_split, node, hops = node, g.producer.get(node.input[0]), hops + 1
    if k_split is None or k_split.op_type != "Reshape":
        raise LookupError("key projection not found")
    shape = g.const(q_split.input[1])
    if shape is None or shape.ndim != 1 or shape.size != 4 or int(shape[2]) <= 0:
        raise LookupError("query split into heads has no constant head count")
    scale = _scalar(g.const(q_scaled.input[1])) * _scalar(g.const(k_scaled.input[1]))
    if not (np.isfinite(scale) and scale > 0):
        raise LookupError("attention scale is not positive")
    return [q_split.input[0], k_split.input[0], v_split.input[0]], merged.output[0], int(shape[2]), scale, merged


def fuse_attention(model: Any) -> int:
    """Replace every unmasked scaled dot-product attention of ``model`` (an ``onnx.ModelProto``,
    changed in place) by one ``com.microsoft.MultiHeadAttention``; returns how many were fused."""
    from onnx import helper

    g = _Graph(model.graph)
    fused = []
    for softmax in [n for n in model.graph.node if n.op_type == "Softmax" and n.domain in ("", "ai.onnx")]:
        try:
            inputs, output, heads, scale, replaced = _match(g, softmax)
        except LookupError:
            continue
        node = helper.make_node(
            "MultiHeadAttention", inputs, [output], domain=MS_DOMAIN, num_heads=heads, scale=scale,
            name=f"{replaced.name or output}_fused_attention",
        )
        fused.append((replaced, node))
    if not fused:
        return 0
    nodes = model.graph.node
    for replaced, node in fused:  # the fused node takes the place of the merging reshape
        index = list(nodes).index(replaced)
        nodes.remove(replaced)
        nodes.insert(index, node)
    _remove_dead_nodes(model.graph)
    if not any(op.domain == MS_DOMAIN for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return len(fused)


def _remove_dead_nodes(graph: Any) -> None:
    """Drop nodes none of whose outputs is read (the unfused attention left behind)."""
    outputs = {o.name for o in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        dead = [node for node in graph.node if not any(out in used for out in node.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)
