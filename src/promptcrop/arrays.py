"""NumPy arrays or torch tensors: the few operations the shared inference steps apply to a
backend's outputs.

The PyTorch backend hands torch tensors (on its device) to the steps after its forwards —
text-embedding normalisation, grounding, the predictor's checks — and the ONNX Runtime backend
hands NumPy arrays, so that it runs without PyTorch installed. These functions take either and
return the same kind; torch is never imported here: a tensor exists only when its caller already
imported torch (as in :mod:`promptcrop.boxes`).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import numpy as np


def is_tensor(value: Any) -> bool:
    """True for a torch tensor (False without torch imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _torch() -> Any:
    return sys.modules["torch"]


def to_numpy(value: Any) -> np.ndarray:
    """A NumPy copy or view on the CPU (float tensors of any precision become float32)."""
    if is_tensor(value):
        value = value.detach()
        if value.is_floating_point():
            value = value.float()
        return value.cpu().numpy()
    return np.asarray(value)


def no_grad(like: Any) -> contextlib.AbstractContextManager[Any]:
    """``torch.inference_mode()`` for a torch backend, a no-op context for NumPy ones. ``like``:
    the backend object (anything holding a ``torch.device`` as ``device``) or an array of it."""
    device = getattr(like, "device", None)
    torch = sys.modules.get("torch")
    if torch is not None and (is_tensor(like) or isinstance(device, torch.device)):
        return torch.inference_mode()
    return contextlib.nullcontext()


def l2_normalize(x: Any, axis: int = -1) -> Any:
    """Rows scaled to unit L2 norm along ``axis`` (norms below 1e-12 count as 1e-12, as
    ``torch.nn.functional.normalize``)."""
    if is_tensor(x):
        return _torch().nn.functional.normalize(x, dim=axis)
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-12)


def nan_to_num(x: Any, *, nan: float, posinf: float, neginf: float) -> Any:
    """Float copy with non-finite values replaced."""
    if is_tensor(x):
        return _torch().nan_to_num(x.float(), nan=nan, posinf=posinf, neginf=neginf)
    return np.nan_to_num(np.asarray(x, dtype=np.float32), nan=nan, posinf=posinf, neginf=neginf)


def all_finite(x: Any) -> bool:
    """True when every value is finite."""
    return bool(_torch().isfinite(x).all()) if is_tensor(x) else bool(np.isfinite(x).all())


def stack(rows: list[Any]) -> Any:
    """``[N, ...]`` from ``N`` arrays of one kind."""
    return _torch().stack(rows) if is_tensor(rows[0]) else np.stack(rows)


def concat(parts: list[Any], axis: int) -> Any:
    """Arrays of one kind joined along ``axis``."""
    return _torch().cat(parts, dim=axis) if is_tensor(parts[0]) else np.concatenate(parts, axis=axis)


def max_along(x: Any, axis: int) -> tuple[Any, Any]:
    """``(values, indices)`` of the maxima along ``axis`` (the first index on ties)."""
    if is_tensor(x):
        values, index = x.max(dim=axis)
        return values, index
    index = np.argmax(x, axis=axis)
    return np.take_along_axis(x, np.expand_dims(index, axis), axis=axis).squeeze(axis), index


def gather_rows(values: Any, index: Any) -> Any:
    """``values [B, P, K]`` at ``index [B, W]`` → ``[B, W, K]``."""
    if is_tensor(values):
        return _torch().gather(values, 1, index[..., None].expand(-1, -1, values.shape[-1]))
    return np.take_along_axis(values, np.asarray(index)[..., None], axis=1)


def where(condition: Any, a: Any, b: Any) -> Any:
    """``a`` where ``condition`` holds, else ``b`` (broadcast; of the kind of ``a``)."""
    return _torch().where(condition, a, b) if is_tensor(a) else np.where(condition, a, b)


def full(like: Any, shape: tuple[int, ...], value: float | bool, dtype: str = "float") -> Any:
    """A new array of ``shape`` filled with ``value``, of ``like``'s kind and device; ``dtype``:
    ``"float"`` (``like``'s float dtype), ``"bool"`` or ``"long"``."""
    if is_tensor(like):
        torch = _torch()
        kind = {"float": like.dtype if like.is_floating_point() else torch.float32, "bool": torch.bool,
                "long": torch.long}[dtype]
        return torch.full(shape, value, dtype=kind, device=like.device)
    kind = {"float": like.dtype if np.issubdtype(np.asarray(like).dtype, np.floating) else np.float32,
            "bool": np.bool_, "long": np.int64}[dtype]
    return np.full(shape, value, dtype=kind)


def constant(like: Any, values: Any) -> Any:
    """``values`` as an array of ``like``'s kind, float dtype and device."""
    if is_tensor(like):
        return like.new_tensor(values)
    return np.asarray(values, dtype=np.asarray(like).dtype)


def as_bool(x: Any, like: Any) -> Any:
    """``x`` (bool or 0/1) as a bool array of ``like``'s kind and device."""
    if is_tensor(like):
        torch = _torch()
        x = x if is_tensor(x) else torch.as_tensor(np.asarray(x))
        return x.to(device=like.device, dtype=torch.bool)
    return to_numpy(x).astype(bool)


def sigmoid(x: Any) -> Any:
    """The logistic function, in float (float32 for NumPy)."""
    if is_tensor(x):
        return _torch().sigmoid(x.float())
    x = np.asarray(x, dtype=np.float32)
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warning for large |x|


def detach(x: Any) -> Any:
    """A tensor cut from its autograd graph (an array as it is)."""
    return x.detach() if is_tensor(x) else x
