"""Safe image loading and atomic writing.

:func:`load_image` turns a path, encoded bytes, a PIL image or a numpy array into one fixed form:
a ``uint8`` array ``[H, W, 3]`` in RGB, EXIF-upright (every box promptcrop returns is in pixels of
*this* array). Whatever goes wrong — missing, empty, truncated, corrupt, not an image, too many
pixels — raises :class:`~promptcrop.errors.ImageLoadError` with a short human reason; no raw
Pillow or ``OSError`` escapes.

Mode conversion (documented choice):

- alpha (``RGBA``, ``LA``, ``PA``, ``P``/``L``/``RGB`` with a transparency key, premultiplied
  modes) is composited on **white**;
- ``CMYK`` with an embedded ICC profile is converted to sRGB through LittleCMS (Pillow's
  ``ImageCms``), otherwise by Pillow's plain formula;
- integer greyscale (``I;16*``, ``I``) is scaled down by the image's own maximum only when it
  exceeds 255 (``v * 255 / max``), so an 8-bit range stored in 16 bits stays as it is; negative
  values switch to min–max scaling;
- float greyscale (``F``) in ``[0, 1]`` is multiplied by 255, in ``[0, 255]`` kept, anything else
  min–max scaled; non-finite values count as 0.

The same rules apply to numpy arrays (``bool``, integer or float; ``[H, W]``, ``[H, W, 1]``,
``[H, W, 3]`` or ``[H, W, 4]``).

Writes (:func:`save_image`, :func:`atomic_write_bytes`, :func:`atomic_write_text`) go to a
temporary file in the destination folder that replaces the destination only once complete, so an
interrupted or failed write never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Union

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from promptcrop.defaults import DEFAULT_MAX_PIXELS
from promptcrop.errors import ImageLoadError, RequestError

#: Lower-case file suffixes accepted as images (all readable by Pillow).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
)

# Pillow decoders tried on input; restricting them keeps exotic plugins (EPS runs Ghostscript)
# away from untrusted files. The JPEG decoder also opens camera MPO files (reported as "JPEG").
_DECODE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
_FORMAT_ALIASES = {"JPG": "JPEG", "MPO": "JPEG", "TIF": "TIFF"}
_RGB_FAMILY_MODES = frozenset({"RGB", "RGBA", "RGBX", "RGBa", "P", "PA"})
_INTEGER_GREY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_MODES_WRITABLE_AS_JPEG = frozenset({"L", "RGB", "CMYK"})
_LOSSY_FORMATS = frozenset({"JPEG", "WEBP"})

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, Image.Image, np.ndarray, "LoadedImage"]


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded input image.

    Attributes:
        array: ``uint8`` ``[H, W, 3]`` RGB pixels, EXIF orientation already applied.
        source: the path as given, or ``"<bytes>"``, ``"<array>"``, ``"<PIL image>"``.
        format: Pillow's format name (``"JPEG"``, ``"PNG"``...; camera MPO files report
            ``"JPEG"``), ``None`` for arrays and PIL images created in memory.
        icc_profile: the embedded ICC profile when it describes ``array`` (RGB sources); ``None``
            when absent or when the pixels were converted from another colour space (treat as sRGB).
        exif_orientation: the original EXIF orientation tag (1–8), 1 when absent or invalid.
    """

    array: np.ndarray
    source: str
    format: str | None = None
    icc_profile: bytes | None = None
    exif_orientation: int = 1

    def __post_init__(self) -> None:
        if self.array.dtype != np.uint8 or self.array.ndim != 3 or self.array.shape[2] != 3:
            raise ValueError(
                f"LoadedImage.array must be uint8 [H, W, 3], got {self.array.dtype} "
                f"{tuple(self.array.shape)}"
            )
        if not 1 <= self.exif_orientation <= 8:
            raise ValueError(f"exif_orientation must be 1..8, got {self.exif_orientation}")

    @property
    def width(self) -> int:
        """Width W in pixels of the upright image."""
        return int(self.array.shape[1])

    @property
    def height(self) -> int:
        """Height H in pixels of the upright image."""
        return int(self.array.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """``(W, H)``, Pillow's order."""
        return self.width, self.height


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has an accepted image suffix (case-insensitive); reads nothing from disk."""
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTENSIONS


# --------------------------------------------------------------------------- loading


def load_image(source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``source`` into an upright RGB ``uint8`` ``[H, W, 3]`` :class:`LoadedImage`.

    Args:
        source: a file path, encoded image bytes, a PIL image (its current frame), a numpy
            array (see the module docstring for accepted shapes and dtypes) or an already
            loaded :class:`LoadedImage` (returned as is if within ``max_pixels``). For files and
            bytes the first frame of an animation is used.
        max_pixels: refuse images with more than this many pixels (checked from the header,
            before any pixel is decoded).

    Raises:
        ImageLoadError: the image cannot be read; ``reason`` says why in a few words.
        ValueError: ``max_pixels`` is not a positive integer.
        TypeError: ``source`` is of an unsupported type.
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise RequestError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    if isinstance(source, LoadedImage):
        _check_pixels(source.source, source.width * source.height, max_pixels)
        return source
    if isinstance(source, np.ndarray):
        return _load_array(source, max_pixels)
    if isinstance(source, Image.Image):
        return _decode(source, "<PIL image>", max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _load_bytes(bytes(source), max_pixels)
    if isinstance(source, (str, os.PathLike)):
        return _load_path(os.fsdecode(source), max_pixels)
    raise TypeError(
        f"cannot load an image from {type(source).__name__}; "
        "pass a path, bytes, a PIL image or a numpy array"
    )


@dataclass(frozen=True, eq=False)
class Preview:
    """A reduced decode of an image for analysis: ``image`` (a :class:`LoadedImage` of at most
    ``max_side`` px on its long side, upright RGB) and ``full_size``, ``(W, H)`` of the upright
    full-resolution image. Boxes found on ``image`` map to the full image by :attr:`scale`."""

    image: LoadedImage
    full_size: tuple[int, int]

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: full-image pixels per preview pixel."""
        return self.full_size[0] / self.image.width, self.full_size[1] / self.image.height


def load_preview(
    source: ImageSource, *, max_side: int = 1024, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Preview:
    """Decode ``source`` at reduced size for analysis: a :class:`Preview` whose image's long side is
    at most ``max_side`` (never enlarged).

    For JPEG files and bytes the decoder itself works at 1/2, 1/4 or 1/8 scale (Pillow's draft
    mode) whenever the reduction allows it, so a 24-megapixel photo costs about what a 2-megapixel
    one does; other formats are decoded fully. An integer box filter then does what the decoder's
    scale left of the reduction. Accepts what :func:`load_image` accepts,
    raises what it raises (the pixel limit is checked on the full size, from the header), and
    applies the same EXIF orientation and mode conversion.
    """
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 1:
        raise RequestError(f"max_side must be a positive integer, got {max_side!r}")
    if isinstance(source, (str, os.PathLike)):
        name = os.fsdecode(source)
        with _open_path(name) as fh:
            return _preview_from(fh, name, max_side, max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise ImageLoadError("<bytes>", "empty data", "empty")
        return _preview_from(io.BytesIO(bytes(source)), "<bytes>", max_side, max_pixels)
    loaded = load_image(source, max_pixels=max_pixels)
    return Preview(image=_reduce_loaded(loaded, max_side), full_size=loaded.size)


def _preview_from(fh: BinaryIO, name: str, max_side: int, max_pixels: int) -> Preview:
    with _open_pil(fh, name) as img:
        _check_pixels(name, img.width * img.height, max_pixels)
        stored = (img.width, img.height)
        factor = math.ceil(max(stored) / max_side)  # the integer reduction _reduce_loaded would make
        if img.format == "JPEG" and factor >= 2:
            # The JPEG decoder scales by 1/2, 1/4 or 1/8 while decoding: the largest of them that
            # the reduction holds (Pillow picks it from the integer quotients of the request), and
            # the box filter does the rest. A 1352 px photo is then decoded at half size, not whole.
            img.draft(img.mode, (img.width // factor, img.height // factor))
        loaded = _decode(img, name, max_pixels)
    # turned by 90 degrees (EXIF 5-8): upright, the full image is H x W
    full = stored[::-1] if loaded.exif_orientation in (5, 6, 7, 8) else stored
    return Preview(image=_reduce_loaded(loaded, max_side), full_size=full)


def _reduce_loaded(loaded: LoadedImage, max_side: int) -> LoadedImage:
    """``loaded`` box-reduced by the integer factor that brings its long side to ≤ ``max_side``."""
    factor = math.ceil(max(loaded.size) / max_side)
    if factor <= 1:
        return loaded
    reduced = np.asarray(Image.fromarray(loaded.array).reduce(factor))
    return LoadedImage(
        array=reduced, source=loaded.source, format=loaded.format,
        icc_profile=loaded.icc_profile, exif_orientation=loaded.exif_orientation,
    )


def _load_path(path: str, max_pixels: int) -> LoadedImage:
    with _open_path(path) as fh:
        return _open_and_decode(fh, path, max_pixels)


def _open_path(path: str) -> BinaryIO:
    """Open a non-empty file for reading; ImageLoadError with a short reason otherwise."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise ImageLoadError(path, "file not found", "missing") from None
    except IsADirectoryError:
        raise ImageLoadError(path, "is a directory, not an image file", "unreadable") from None
    except PermissionError:
        reason = "is a directory, not an image file" if os.path.isdir(path) else "permission denied"
        raise ImageLoadError(path, reason, "unreadable") from None
    except OSError as exc:
        raise ImageLoadError(path, f"cannot open file ({exc.strerror or exc})", "unreadable") from exc
    if os.fstat(fh.fileno()).st_size == 0:
        fh.close()
        raise ImageLoadError(path, "empty file", "empty")
    return fh


def _load_bytes(data: bytes, max_pixels: int) -> LoadedImage:
    if not data:
        raise ImageLoadError("<bytes>", "empty data", "empty")
    return _open_and_decode(io.BytesIO(data), "<bytes>", max_pixels)


def _open_pil(fh: BinaryIO, name: str) -> Image.Image:
    """Identify the image in ``fh`` (lazy: no pixels decoded); ImageLoadError when it is none."""
    try:
        return Image.open(fh, formats=_DECODE_FORMATS)
    except UnidentifiedImageError:
        raise ImageLoadError(name, "not an image (unrecognised format)", "not_image") from None
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(name, _bomb_reason(), "too_large") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure on untrusted input
        raise ImageLoadError(name, "truncated or corrupt image data") from exc


def _open_and_decode(fh: BinaryIO, name: str, max_pixels: int) -> LoadedImage:
    with _open_pil(fh, name) as img:
        return _decode(img, name, max_pixels)


def _decode(img: Image.Image, name: str, max_pixels: int) -> LoadedImage:
    """Size-check, fully decode, EXIF-transpose and convert an opened (maybe lazy) image."""
    _check_pixels(name, img.width * img.height, max_pixels)
    orientation = _exif_orientation(img)
    try:
        img.load()
        upright = ImageOps.exif_transpose(img) if orientation != 1 else img
        rgb, colour_converted = _to_rgb(upright)
        array = np.array(rgb, dtype=np.uint8)
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(name, _bomb_reason(), "too_large") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure on untrusted input
        raise ImageLoadError(name, "truncated or corrupt image data") from exc
    icc = img.info.get("icc_profile") or None
    return LoadedImage(
        array=array,
        source=name,
        format=_FORMAT_ALIASES.get(img.format, img.format) if img.format else None,
        icc_profile=None if colour_converted else icc,
        exif_orientation=orientation,
    )


def _check_pixels(name: str, pixels: int, max_pixels: int) -> None:
    if pixels > max_pixels:
        raise ImageLoadError(
            name,
            f"image has {pixels:,} pixels, above the limit of {max_pixels:,}",
            "too_large",
        )


def _bomb_reason() -> str:
    limit = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else 0
    return f"image is above Pillow's decompression-bomb limit of {limit:,} pixels"


def _exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation tag, 1 when absent, invalid or unreadable."""
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not refuse the image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb(img: Image.Image) -> tuple[Image.Image, bool]:
    """Any Pillow mode → ``RGB``, and whether the colour space changed (the ICC no longer fits)."""
    mode = img.mode
    colour_converted = mode not in _RGB_FAMILY_MODES
    if mode in _INTEGER_GREY_MODES or mode == "F":
        img = Image.fromarray(_to_uint8(np.asarray(img)))
    if mode == "CMYK" and img.info.get("icc_profile"):
        return _cmyk_to_srgb(img), True
    if mode == "La":  # Pillow has no direct La -> RGBA conversion
        img = img.convert("LA")
    if img.has_transparency_data:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), colour_converted
    return (img if img.mode == "RGB" else img.convert("RGB")), colour_converted  # convert would copy an RGB image


def _cmyk_to_srgb(img: Image.Image) -> Image.Image:
    try:  # LittleCMS: only CMYK photos with a profile need it (a Pillow built without it: the plain formula)
        from PIL import ImageCms
    except ImportError:
        return img.convert("RGB")
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(img.info["icc_profile"]))
        converted = ImageCms.profileToProfile(
            img, profile, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img.convert("RGB")
    return converted if converted is not None else img.convert("RGB")


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Map bool / integer / float pixel values to ``uint8`` by the rules in the module docstring."""
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * 255
    if np.issubdtype(values.dtype, np.integer):
        low, high = int(values.min()), int(values.max())
        if low < 0:
            return _min_max(values.astype(np.float64))
        return np.round(values.astype(np.float64) * (255.0 / max(high, 255))).astype(np.uint8)
    if np.issubdtype(values.dtype, np.floating):
        finite = np.where(np.isfinite(values), values, 0).astype(np.float64)
        low, high = float(finite.min()), float(finite.max())
        if low >= 0.0 and high <= 1.0:
            return np.round(finite * 255.0).astype(np.uint8)
        if low >= 0.0 and high <= 255.0:
            return np.round(finite).astype(np.uint8)
        return _min_max(finite)
    raise ValueError(f"unsupported pixel dtype {values.dtype}")


def _min_max(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _array_to_pil(array: np.ndarray) -> Image.Image:
    """``[H, W]``, ``[H, W, 1]``, ``[H, W, 3]`` or ``[H, W, 4]`` array → ``L``/``RGB``/``RGBA``
    image, values mapped to ``uint8`` by :func:`_to_uint8`; raises ``ValueError`` otherwise."""
    shape = tuple(array.shape)
    if array.ndim == 3 and shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and shape[2] in (3, 4))):
        raise ValueError(
            f"array of shape {shape} is not an image (expected [H, W], [H, W, 3] or [H, W, 4])"
        )
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"array of shape {shape} has no pixels")
    return Image.fromarray(np.ascontiguousarray(_to_uint8(array)))


def _load_array(array: np.ndarray, max_pixels: int) -> LoadedImage:
    name = "<array>"
    if array.ndim >= 2:
        _check_pixels(name, int(array.shape[0]) * int(array.shape[1]), max_pixels)
    try:
        rgb, _ = _to_rgb(_array_to_pil(array))
    except ValueError as exc:
        raise ImageLoadError(name, str(exc), "not_image") from None
    return LoadedImage(array=np.array(rgb, dtype=np.uint8), source=name)


# --------------------------------------------------------------------------- atomic writing


@contextlib.contextmanager
def _atomic_file(path: str | os.PathLike[str], durable: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes ``path`` only if the block completes.

    The data goes to a hidden temporary file in the same folder (so ``os.replace`` is atomic),
    which is flushed (and, when ``durable``, fsynced: its data reaches the disk before the name
    does, so a power loss cannot leave ``path`` naming an empty file), then renamed over ``path``;
    on any exception it is removed. Without ``durable`` the file is still all or nothing for any
    failure of the process, but an operating-system crash may lose it. The file gets the default
    permissions (``0o666`` minus the umask).
    """
    target = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(target))
    tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")  # 12 random hex digits
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (all or nothing). Raises ``OSError`` on failure.

    ``durable=False`` skips the fsync (see :func:`_atomic_file`): for a file whose loss in an
    operating-system crash costs only a redo."""
    with _atomic_file(path, durable) as fh:
        fh.write(data)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, encoding: str = "utf-8", *, durable: bool = True
) -> None:
    """Write ``text`` to ``path`` atomically, encoded as ``encoding``, newlines untranslated
    (``durable`` as in :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode(encoding), durable=durable)


def _resolve_format(path: str | os.PathLike[str], format: str | None) -> str:
    if format is None:
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        format = Image.registered_extensions().get(suffix)
        if format is None:
            raise ValueError(f"cannot tell the image format from {os.fspath(path)!r}; pass format=")
    name = _FORMAT_ALIASES.get(format.upper(), format.upper())
    if not pillow_writes(name):
        raise ValueError(f"Pillow cannot write {format!r} images")
    return name


def pillow_writes(format: str) -> bool:
    """Whether Pillow can write the format named ``format`` (upper case: ``"JPEG"``, ``"WEBP"``).

    Pillow's common plugins (JPEG, PNG, GIF, BMP, PPM) are loaded first and all of them only for
    another format: loading every plugin is a noticeable share of a one-photo command's start
    (docs/BENCHMARKS.md, cold start).
    """
    Image.preinit()
    if format not in Image.SAVE:
        Image.init()
    return format in Image.SAVE


def save_image(
    image: np.ndarray | Image.Image,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    icc_profile: bytes | None = None,
    quality: int = 95,
) -> None:
    """Encode ``image`` and write it to ``path`` atomically.

    Args:
        image: a PIL image, or an array accepted by :func:`load_image` (``uint8`` ``[H, W, 3]``
            RGB typically).
        path: destination file; its folder must exist.
        format: Pillow format name (pass ``LoadedImage.format`` to keep the input's format);
            ``None`` infers it from the suffix of ``path``.
        icc_profile: embedded as is when given (pass ``LoadedImage.icc_profile``).
        quality: 1–100, used by lossy formats (JPEG, WebP).

    Images with alpha or a palette are composited on white before writing JPEG.

    Raises:
        ValueError: unknown format, bad quality or an array that is not an image.
        OSError: the file cannot be written; nothing is left at ``path`` (an existing file
            there is untouched) and no temporary file remains.
    """
    fmt = _resolve_format(path, format)
    with _atomic_file(path) as fh:
        _encode(image, fh, fmt, icc_profile, quality)


def encode_image(
    image: np.ndarray | Image.Image,
    format: str,
    *,
    icc_profile: bytes | None = None,
    quality: int = 95,
) -> bytes:
    """Encode ``image`` in memory as Pillow ``format`` (``"JPEG"``, ``"PNG"``, ``"WEBP"``...),
    with the same rules as :func:`save_image`; returns the encoded bytes.

    Raises:
        ValueError: unknown format, bad quality or an array that is not an image.
    """
    buffer = io.BytesIO()
    _encode(image, buffer, _resolve_format("", format), icc_profile, quality)
    return buffer.getvalue()


def _encode(
    image: np.ndarray | Image.Image, fh: BinaryIO, fmt: str, icc_profile: bytes | None, quality: int
) -> None:
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer in 1..100, got {quality!r}")
    pil = image if isinstance(image, Image.Image) else _array_to_pil(np.asarray(image))
    if fmt == "JPEG" and pil.mode not in _MODES_WRITABLE_AS_JPEG:
        pil, _ = _to_rgb(pil)
    params: dict[str, object] = {}
    if icc_profile:
        params["icc_profile"] = icc_profile
    if fmt in _LOSSY_FORMATS:
        params["quality"] = quality
    pil.save(fh, format=fmt, **params)
