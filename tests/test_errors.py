"""errors: the classes front ends branch on, their stable codes and one-line reasons."""

from __future__ import annotations

import pytest

from promptcrop.errors import (
    CheckpointError,
    ImageLoadError,
    InternalError,
    ModelUnavailableError,
    PromptcropError,
    RequestError,
    error_code,
    failure_reason,
    is_user_error,
)
from promptcrop.images import load_image


def test_request_errors_are_value_errors_and_internal_errors_are_not():
    assert issubclass(RequestError, ValueError) and issubclass(RequestError, PromptcropError)
    assert issubclass(ImageLoadError, RequestError)
    assert not issubclass(InternalError, ValueError)
    assert is_user_error(RequestError("x")) and is_user_error(ModelUnavailableError("x"))
    assert not is_user_error(InternalError("x")) and not is_user_error(KeyError("x"))


@pytest.mark.parametrize(
    ("make", "kind", "code"),
    [
        (lambda p: str(p / "missing.png"), "missing", "bad_image"),
        (lambda p: _write(p / "empty.png", b""), "empty", "bad_image"),
        (lambda p: _write(p / "text.png", b"hello, not an image"), "not_image", "not_an_image"),
        (lambda p: _write(p / "cut.png", _png()[: len(_png()) // 2]), "corrupt", "bad_image"),
    ],
)
def test_image_errors_carry_a_kind_and_code(tmp_path, make, kind, code):
    with pytest.raises(ImageLoadError) as info:
        load_image(make(tmp_path))
    assert info.value.kind == kind and error_code(info.value) == code
    assert "\n" not in failure_reason(info.value) and "--" not in failure_reason(info.value)


def test_too_large_names_no_cli_flag(tmp_path):
    with pytest.raises(ImageLoadError) as info:
        load_image(_write(tmp_path / "a.png", _png()), max_pixels=10)
    assert info.value.kind == "too_large" and error_code(info.value) == "image_too_large"
    assert "--" not in str(info.value)


def test_codes_and_reasons_of_the_other_classes():
    assert error_code(RequestError("bad k")) == "bad_request" and failure_reason(RequestError("bad k")) == "bad k"
    assert error_code(ValueError("bad")) == "bad_request"
    assert error_code(ModelUnavailableError("no weights")) == "queries_unavailable"
    assert error_code(CheckpointError("x")) == "checkpoint"
    assert error_code(InternalError("shape")) == "internal"
    assert error_code(ZeroDivisionError()) == "internal"
    assert failure_reason(InternalError("shape")) == "internal error (InternalError: shape)"
    assert failure_reason(PermissionError(13, "Permission denied", "/x")) == \
        "cannot write the outputs: Permission denied (/x)"


def _png() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, format="PNG")
    return buf.getvalue()


def _write(path, data: bytes):
    path.write_bytes(data)
    return str(path)
