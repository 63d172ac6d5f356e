import io
import os

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from promptcrop import images as I
from promptcrop.errors import ImageLoadError

H, W = 4, 6  # upright pattern: 4 rows, 6 columns (asymmetric in every direction)


def upright_pattern() -> np.ndarray:
    """[H, W, 3] uint8, every pixel distinct."""
    idx = np.arange(H * W).reshape(H, W)
    return np.stack([idx * 10, 255 - idx * 10, (idx * 37) % 256], axis=-1).astype(np.uint8)


def stored_for_orientation(upright: np.ndarray, orientation: int) -> np.ndarray:
    """How a camera stores ``upright`` under each EXIF orientation (EXIF 2.3 definitions)."""
    h, w = upright.shape[:2]
    if orientation == 1:
        return upright
    if orientation == 2:  # 0th row = top, 0th column = right
        return upright[:, ::-1]
    if orientation == 3:  # bottom, right
        return upright[::-1, ::-1]
    if orientation == 4:  # bottom, left
        return upright[::-1, :]
    if orientation == 5:  # 0th row = left side, 0th column = top
        return upright.transpose(1, 0, 2)
    if orientation == 6:  # 0th row = right side, 0th column = top
        return np.rot90(upright, k=1)
    if orientation == 7:  # 0th row = right side, 0th column = bottom
        out = np.empty((w, h, 3), upright.dtype)
        for i in range(w):
            for j in range(h):
                out[i, j] = upright[h - 1 - j, w - 1 - i]
        return out
    if orientation == 8:  # 0th row = left side, 0th column = bottom
        return np.rot90(upright, k=-1)
    raise ValueError(orientation)


def save_with_orientation(path, stored: np.ndarray, orientation: int, **params) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, **params)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_png_exact(tmp_path, orientation):
    up = upright_pattern()
    path = tmp_path / f"o{orientation}.png"
    save_with_orientation(path, stored_for_orientation(up, orientation), orientation)
    img = I.load_image(path)
    assert img.exif_orientation == orientation
    assert img.size == (W, H) and img.width == W and img.height == H
    np.testing.assert_array_equal(img.array, up)
    assert img.format == "PNG" and img.source == str(path)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_jpeg_blocks(tmp_path, orientation):
    # 16-px blocks of flat colour survive JPEG almost exactly
    up = np.kron(upright_pattern(), np.ones((16, 16, 1), np.uint8))
    path = tmp_path / f"o{orientation}.jpg"
    save_with_orientation(path, stored_for_orientation(up, orientation), orientation, quality=98)
    img = I.load_image(path)
    assert img.array.shape == up.shape and img.format == "JPEG"
    centres = img.array[8::16, 8::16].astype(int)
    assert np.abs(centres - upright_pattern().astype(int)).max() <= 8


def test_invalid_orientation_tag_is_ignored(tmp_path):
    path = tmp_path / "bad.png"
    save_with_orientation(path, upright_pattern(), 9)
    img = I.load_image(path)
    assert img.exif_orientation == 1
    np.testing.assert_array_equal(img.array, upright_pattern())


# --------------------------------------------------------------------------- modes


def _grey_with_alpha(mode: str) -> Image.Image:
    return Image.merge(mode, [Image.new("L", (3, 2), 0), Image.new("L", (3, 2), 0)])


MODE_CASES = {
    # name: (image factory, expected RGB of pixel (0, 0))
    "1": (lambda: Image.new("1", (3, 2), 1), (255, 255, 255)),
    "L": (lambda: Image.new("L", (3, 2), 77), (77, 77, 77)),
    "LA transparent": (lambda: _grey_with_alpha("LA"), (255, 255, 255)),
    "La transparent": (lambda: _grey_with_alpha("La"), (255, 255, 255)),
    "RGBA half": (lambda: Image.new("RGBA", (3, 2), (0, 0, 0, 128)), (127, 127, 127)),
    "RGBa opaque": (lambda: Image.new("RGBa", (3, 2), (10, 20, 30, 255)), (10, 20, 30)),
    "RGBX": (lambda: Image.new("RGBX", (3, 2), (10, 20, 30, 0)), (10, 20, 30)),
    "CMYK": (lambda: Image.new("CMYK", (3, 2), (0, 255, 255, 0)), (255, 0, 0)),
    "YCbCr": (lambda: Image.new("YCbCr", (3, 2), (128, 128, 128)), (128, 128, 128)),
    "I;16 8-bit range": (lambda: Image.new("I;16", (3, 2), 200), (200, 200, 200)),
    "I;16B": (lambda: Image.new("I;16B", (3, 2), 200), (200, 200, 200)),
    "I": (lambda: Image.new("I", (3, 2), 100), (100, 100, 100)),
    "F unit": (lambda: Image.new("F", (3, 2), 0.5), (128, 128, 128)),
    "HSV": (lambda: Image.new("HSV", (3, 2), (0, 0, 255)), (255, 255, 255)),
}


@pytest.mark.parametrize("case", sorted(MODE_CASES))
def test_every_mode_becomes_uint8_rgb(case):
    factory, expected = MODE_CASES[case]
    img = I.load_image(factory())
    assert img.array.dtype == np.uint8 and img.array.shape == (2, 3, 3)
    np.testing.assert_allclose(img.array[0, 0], expected, atol=1)
    assert img.source == "<PIL image>"


def test_palette_with_transparency_composited_on_white(tmp_path):
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putpixel((0, 0), 0)
    path = tmp_path / "p.png"
    pal.save(path, transparency=1)  # palette index 1 (blue) is transparent
    arr = I.load_image(path).array
    np.testing.assert_array_equal(arr[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(arr[1, 1], [255, 255, 255])


def test_sixteen_bit_scaled_by_own_max(tmp_path):
    values = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    img = I.load_image(path)
    np.testing.assert_array_equal(img.array[..., 0], [[0, 64], [128, 255]])
    assert (img.array[..., 0] == img.array[..., 2]).all()


@pytest.mark.parametrize(
    "values, expected",
    [
        (np.array([[-1.0, 0.0], [1.0, 3.0]], np.float32), [[0, 64], [128, 255]]),  # min-max
        (np.array([[0.0, 0.25], [1.0, np.nan]], np.float32), [[0, 64], [255, 0]]),  # x255
        (np.array([[-5, 0], [5, 15]], np.int32), [[0, 64], [128, 255]]),  # negative: min-max
    ],
)
def test_float_and_signed_scaling(tmp_path, values, expected):
    path = tmp_path / "f.tif"
    Image.fromarray(values).save(path)
    np.testing.assert_array_equal(I.load_image(path).array[..., 1], expected)


def test_cmyk_jpeg_file_and_broken_icc_falls_back(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(path, quality=100)
    img = I.load_image(path)
    assert img.array.min() >= 250 and img.icc_profile is None
    broken = Image.new("CMYK", (2, 2), (255, 0, 0, 0))
    broken.info["icc_profile"] = b"not a profile"
    img = I.load_image(broken)
    np.testing.assert_allclose(img.array[0, 0], (0, 255, 255), atol=1)
    assert img.icc_profile is None


def test_cmyk_with_a_profile_falls_back_without_littlecms(monkeypatch):
    """A Pillow built without LittleCMS converts a CMYK photo with a profile by the plain formula."""
    import sys

    cmyk = Image.new("CMYK", (2, 2), (255, 0, 0, 0))
    cmyk.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    import PIL

    monkeypatch.setitem(sys.modules, "PIL.ImageCms", None)  # its import now raises ImportError
    monkeypatch.delattr(PIL, "ImageCms", raising=False)
    np.testing.assert_allclose(I.load_image(cmyk).array[0, 0], (0, 255, 255), atol=1)


def test_icc_kept_for_rgb_dropped_for_grey(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (4, 4), "red").save(tmp_path / "rgb.png", icc_profile=icc)
    Image.new("L", (4, 4), 9).save(tmp_path / "grey.png", icc_profile=icc)
    assert I.load_image(tmp_path / "rgb.png").icc_profile == icc
    assert I.load_image(tmp_path / "grey.png").icc_profile is None


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (5, 5), c) for c in ("red", "lime", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(path) as check:
        assert check.n_frames == 3
    img = I.load_image(path)
    assert img.format == "GIF"
    np.testing.assert_array_equal(img.array[2, 2], [255, 0, 0])


@pytest.mark.parametrize("fmt, suffix", [("WEBP", ".webp"), ("BMP", ".bmp"), ("TIFF", ".tiff")])
def test_other_accepted_formats(tmp_path, fmt, suffix):
    path = tmp_path / f"x{suffix}"
    params = {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(upright_pattern()).save(path, format=fmt, **params)
    img = I.load_image(path)
    assert img.format == fmt
    np.testing.assert_array_equal(img.array, upright_pattern())


# --------------------------------------------------------------------------- other inputs


def test_bytes_pil_and_array_inputs():
    buf = io.BytesIO()
    Image.fromarray(upright_pattern()).save(buf, format="PNG")
    from_bytes = I.load_image(buf.getvalue())
    assert from_bytes.source == "<bytes>" and from_bytes.format == "PNG"
    np.testing.assert_array_equal(from_bytes.array, upright_pattern())
    from_pil = I.load_image(Image.fromarray(upright_pattern()))
    np.testing.assert_array_equal(from_pil.array, upright_pattern())
    from_array = I.load_image(upright_pattern())
    assert from_array.source == "<array>" and from_array.format is None
    np.testing.assert_array_equal(from_array.array, upright_pattern())


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.ones((2, 3), bool), 255),
        (np.full((2, 3, 1), 7, np.uint8), 7),
        (np.full((2, 3, 3), 0.5, np.float64), 128),
        (np.full((2, 3, 3), 100.0, np.float32), 100),
        (np.full((2, 3), 1000, np.uint16), 255),
        (np.concatenate([np.zeros((2, 3, 3)), np.zeros((2, 3, 1))], axis=-1), 255),  # alpha 0
    ],
)
def test_array_dtypes_and_shapes(array, expected):
    out = I.load_image(array).array
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    assert (out == expected).all()


@pytest.mark.parametrize(
    "array", [np.zeros((2, 3, 5)), np.zeros(6), np.zeros((0, 3, 3)), np.zeros((2, 2), complex)]
)
def test_bad_arrays_refused(array):
    with pytest.raises(ImageLoadError) as err:
        I.load_image(array)
    assert err.value.source == "<array>"


def test_bad_arguments():
    with pytest.raises(TypeError):
        I.load_image(42)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            I.load_image(upright_pattern(), max_pixels=bad)
    with pytest.raises(ImageLoadError, match="empty data"):
        I.load_image(b"")


# --------------------------------------------------------------------------- refusals


def _jpeg_bytes() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    noise = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, format="PNG")
    return buf.getvalue()


def _write(path, data):
    path.write_bytes(data)
    return path


REFUSALS = {
    "truncated jpeg": (lambda p: _write(p / "cut.jpg", _jpeg_bytes()[: len(_jpeg_bytes()) // 2]),
                       "truncated or corrupt image data"),
    "truncated png": (lambda p: _write(p / "cut.png", _png_bytes()[: len(_png_bytes()) // 2]),
                      "truncated or corrupt image data"),
    "corrupt jpeg": (lambda p: _write(p / "bad.jpg", _jpeg_bytes()[:200] + b"\x00" * 5000),
                     "truncated or corrupt image data"),
    "empty file": (lambda p: _write(p / "zero.jpg", b""), "empty file"),
    "text named jpg": (lambda p: _write(p / "notes.jpg", b"hello, I am text\n"),
                       "not an image (unrecognised format)"),
    "ppm not accepted": (lambda p: _write(p / "x.ppm", b"P6 2 2 255\n" + bytes(12)),
                         "not an image (unrecognised format)"),
    "directory": (lambda p: (p / "folder.jpg").mkdir() or p / "folder.jpg", "is a directory"),
    "missing": (lambda p: p / "missing.jpg", "file not found"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_name_the_file(tmp_path, case):
    make, reason = REFUSALS[case]
    path = make(tmp_path)
    with pytest.raises(ImageLoadError) as err:
        I.load_image(path)
    assert err.value.source == str(path)
    assert str(path) in str(err.value)
    assert reason in err.value.reason
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_pixel_limit_checked_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 80)).save(path)

    def no_decoding(self):
        raise AssertionError("pixels decoded despite the limit")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageLoadError) as err:
        I.load_image(path, max_pixels=7_999)
    assert err.value.reason == (
        "image has 8,000 pixels, above the limit of 7,999"
    )
    with pytest.raises(ImageLoadError, match="8,000 pixels"):
        I.load_image(np.zeros((80, 100, 3), np.uint8), max_pixels=7_999)


def test_decompression_bomb_guarded(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageLoadError, match="decompression-bomb"):
        I.load_image(path, max_pixels=10**9)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path):
    path = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(path)
    path.chmod(0)
    with pytest.raises(ImageLoadError, match="permission denied"):
        I.load_image(path)


def test_is_image_path():
    assert I.is_image_path("a/B.JPG") and I.is_image_path("x.tiff") and I.is_image_path("y.webp")
    assert not I.is_image_path("notes.txt") and not I.is_image_path("jpg")
    assert I.IMAGE_EXTENSIONS == frozenset(
        {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
    )


def test_loaded_image_validates_array():
    with pytest.raises(ValueError):
        I.LoadedImage(array=np.zeros((2, 2), np.uint8), source="x")
    with pytest.raises(ValueError):
        I.LoadedImage(array=np.zeros((2, 2, 3), np.uint8), source="x", exif_orientation=0)


# --------------------------------------------------------------------------- writing


def test_save_round_trip_keeps_format_and_icc(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "in.jpg"
    Image.fromarray(upright_pattern()).save(src, icc_profile=icc)
    loaded = I.load_image(src)
    out = tmp_path / "out.jpg"
    I.save_image(loaded.array, out, format=loaded.format, icc_profile=loaded.icc_profile)
    with Image.open(out) as back:
        assert back.format == "JPEG" and back.info.get("icc_profile") == icc
    png = tmp_path / "out.png"
    I.save_image(upright_pattern(), png)
    with Image.open(png) as back:
        assert back.format == "PNG"
        np.testing.assert_array_equal(np.asarray(back), upright_pattern())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jpg", "out.jpg", "out.png"]


def test_save_rgba_as_jpeg_flattens_on_white(tmp_path):
    out = tmp_path / "flat.jpeg"
    I.save_image(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), out)
    assert I.load_image(out).array.min() >= 250


def test_save_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="format"):
        I.save_image(upright_pattern(), tmp_path / "x.unknown")
    with pytest.raises(ValueError, match="quality"):
        I.save_image(upright_pattern(), tmp_path / "x.jpg", quality=0)
    with pytest.raises(ValueError, match="not an image"):
        I.save_image(np.zeros((2, 2, 7), np.uint8), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_save_into_missing_folder_leaves_nothing(tmp_path):
    with pytest.raises(OSError):
        I.save_image(upright_pattern(), tmp_path / "no" / "such" / "dir.png")
    assert list(tmp_path.iterdir()) == []


def test_failing_encoder_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    out.write_bytes(b"previous")

    def half_then_fail(self, fp, *args, **kwargs):
        fp.write(b"half-written")
        raise OSError("encoder exploded")

    monkeypatch.setattr(Image.Image, "save", half_then_fail)
    with pytest.raises(OSError, match="exploded"):
        I.save_image(upright_pattern(), out)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_atomic_write_helpers(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    I.atomic_write_text(tmp_path / "a.json", "{\"é\": 1}\n")
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == "{\"é\": 1}\n"
    I.atomic_write_bytes(tmp_path / "a.json", b"new")
    assert (tmp_path / "a.json").read_bytes() == b"new"
    if os.name == "posix":
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        I.atomic_write_bytes(tmp_path / "d", b"x")  # a directory cannot be replaced by a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "d"]


def test_camera_mpo_reads_as_jpeg(tmp_path):
    path = tmp_path / "camera.jpg"
    first, second = Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")
    first.save(path, format="MPO", save_all=True, append_images=[second], quality=100)
    with Image.open(path) as check:
        assert check.format == "MPO"
    img = I.load_image(path)
    assert img.format == "JPEG"
    assert img.array[4, 4, 0] > 240 and img.array[4, 4, 2] < 15


def test_a_loaded_image_passes_through_unchanged_but_still_respects_the_limit():
    loaded = I.load_image(np.zeros((10, 20, 3), np.uint8))
    assert I.load_image(loaded) is loaded
    with pytest.raises(ImageLoadError, match="above the limit"):
        I.load_image(loaded, max_pixels=100)


def test_pillow_writes_common_and_other_formats_but_not_unknown_ones():
    for name in ("JPEG", "PNG", "TIFF", "WEBP"):
        assert I.pillow_writes(name), name
    assert not I.pillow_writes("NOT-A-FORMAT")


# --------------------------------------------------------------------------- reduced decode


@pytest.fixture(scope="module")
def jpeg_24mp(tmp_path_factory) -> str:
    """A 6000 x 4000 (24-megapixel) JPEG: a gradient with a red square at a known place."""
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    x = np.linspace(0, 255, 6000, dtype=np.float32)
    y = np.linspace(0, 255, 4000, dtype=np.float32)
    grey = ((x[None, :] + y[:, None]) / 2).astype(np.uint8)
    img = Image.fromarray(np.stack([grey] * 3, axis=-1))
    img.paste((230, 30, 30), (4200, 800, 5400, 2000))
    img.save(path, quality=80)
    return str(path)


def test_preview_of_a_24_megapixel_jpeg_uses_the_reduced_decode(jpeg_24mp):
    preview = I.load_preview(jpeg_24mp, max_side=1024)
    assert preview.full_size == (6000, 4000)
    # the JPEG decoder scaled by 1/8 while decoding (750 x 500); a full decode would be reduced
    # by an integer box filter to 1000 x 667 instead
    assert preview.image.size == (750, 500)
    assert preview.scale == (8.0, 8.0)
    red = preview.image.array[100:250, 525:675]  # the square, in preview pixels
    assert red[..., 0].mean() > 200 and red[..., 1].mean() < 60
    with open(jpeg_24mp, "rb") as fh:
        from_bytes = I.load_preview(fh.read(), max_side=1024)
    assert from_bytes.image.size == (750, 500) and from_bytes.full_size == (6000, 4000)


def test_preview_of_a_jpeg_less_than_twice_too_large_is_decoded_at_half_scale(tmp_path):
    # 1352 x 900 at max_side 768: the integer reduction is 2, which the decoder's 1/2 scale does
    # itself (before, the whole photo was decoded and box-filtered)
    path = tmp_path / "photo.jpg"
    Image.fromarray(upright_pattern()).resize((1352, 900)).save(path, quality=90)
    preview = I.load_preview(str(path), max_side=768)
    assert preview.image.size == (676, 450) and preview.full_size == (1352, 900)
    with Image.open(path) as img:
        img.draft("RGB", (676, 450))
        assert np.array_equal(preview.image.array, np.asarray(img.convert("RGB")))


def test_preview_follows_exif_orientation_and_small_images_stay(tmp_path):
    path = tmp_path / "turned.jpg"
    img = Image.new("RGB", (4000, 2000), (20, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: upright it is 2000 wide, 4000 tall
    img.save(path, exif=exif.tobytes())
    preview = I.load_preview(str(path), max_side=500)
    assert preview.full_size == (2000, 4000)
    assert preview.image.width < preview.image.height <= 500
    small = I.load_preview(upright_pattern())
    assert small.full_size == (W, H) and small.image.size == (W, H) and small.scale == (1.0, 1.0)
    png = tmp_path / "wide.png"
    Image.new("RGB", (3000, 1000), (9, 9, 9)).save(png)
    assert I.load_preview(str(png), max_side=1024).image.size == (1000, 334)  # box filter by 3 (ceil)


def test_preview_raises_what_load_image_raises(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "fake.jpg").write_bytes(b"not an image at all")
    for name, reason in (("missing.jpg", "file not found"), ("empty.jpg", "empty file"),
                         ("fake.jpg", "not an image")):
        with pytest.raises(ImageLoadError, match=reason):
            I.load_preview(str(tmp_path / name))
    with pytest.raises(ImageLoadError, match="empty data"):
        I.load_preview(b"")
    Image.new("RGB", (300, 300)).save(tmp_path / "big.png")
    with pytest.raises(ImageLoadError, match="above the limit"):
        I.load_preview(str(tmp_path / "big.png"), max_pixels=1000)
    with pytest.raises(ValueError, match="max_side"):
        I.load_preview(str(tmp_path / "big.png"), max_side=0)
