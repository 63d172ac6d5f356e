"""outputs: file names, formats and ICC profiles, the JSON record, completeness, the overlay."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from PIL import Image, ImageCms

from promptcrop.batch.outputs import OutputPaths, draw_overlay, output_format, record_is_complete, write_outputs
from promptcrop.images import LoadedImage
from promptcrop.results import FREE_RATIO, CropResult, GroundedBox, Prediction


def _image(fmt: str | None = "JPEG", icc: bytes | None = None, w: int = 120, h: int = 80) -> LoadedImage:
    rng = np.random.default_rng(0)
    return LoadedImage(array=rng.integers(0, 255, (h, w, 3), dtype=np.uint8), source="in.x", format=fmt,
                       icc_profile=icc, exif_orientation=1)


def _prediction() -> Prediction:
    crops = [
        CropResult(box=(10, 0, 90, 80), score=0.9, rank=1, aspect=1.0, mode="zeroshot", terms={"a": 0.5},
                   ratio="1:1"),
        CropResult(box=(0, 0, 80, 80), score=0.7, rank=2, aspect=1.0, mode="zeroshot", terms={"a": 0.25},
                   ratio="1:1"),
        CropResult(box=(-10, 0, 130, 80), score=0.5, rank=1, aspect=1.75, mode="zeroshot", padded=True,
                   pad_color=(1, 2, 3), ratio="7:4"),
    ]
    grounding = [GroundedBox(phrase="the cat", box=(20.0, 10.0, 60.0, 50.0), logit=1.5)]
    return Prediction(crops=crops, image_size=(120, 80), mode="zeroshot", query="the cat",
                      phrases=("the cat",), region=(20.0, 10.0, 60.0, 50.0), grounding=grounding,
                      timings={"encode": 0.1})


def _context(**kw) -> dict:
    """The record fields a writer adds (write_outputs' keywords)."""
    return {"input": "in/photo.jpg", "fingerprint": "abc", **kw}


def test_output_format_keeps_writable_formats_else_png():
    assert (output_format("JPEG").format, output_format("JPEG").suffix) == ("JPEG", ".jpg")
    assert output_format("PNG").suffix == ".png"
    assert output_format("TIFF").suffix == ".tif"
    assert output_format(None).format == "PNG"
    assert output_format("PSD").format == "PNG"  # Pillow reads PSD but cannot write it


def test_paths_layout_and_key_validation(tmp_path):
    paths = OutputPaths(tmp_path, "sub/photo")
    assert paths.record == tmp_path / "sub" / "photo.json"
    assert paths.overlay == tmp_path / "sub" / "photo.overlay.png"
    assert paths.crop(2, (400, 500), ".jpg") == tmp_path / "sub" / "photo.2.400x500.jpg"
    for bad in ("", "/abs/photo", "../photo", "a/../../b"):
        with pytest.raises(ValueError):
            OutputPaths(tmp_path, bad)


def test_crop_ratio_label_defaults():
    crop = CropResult(box=(0, 0, 16, 9), score=1, rank=1, aspect=16 / 9, mode="offline", ratio="16:9")
    assert crop.ratio == "16:9"
    assert CropResult(box=(0, 0, 16, 9), score=1, rank=1, aspect=1.5, mode="offline").ratio == "1.5"
    free = CropResult(box=(0, 0, 16, 9), score=1, rank=1, aspect=None, mode="clipcrop")
    assert free.ratio == FREE_RATIO


def test_write_outputs_files_record_and_icc(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image, pred = _image("JPEG", icc), _prediction()
    paths = OutputPaths(tmp_path, "sub/photo")
    record = write_outputs(paths, image, pred, **_context(explain=True), overlay=True)
    names = [c["file"] for c in record["crops"]]
    assert names == ["photo.1.80x80.jpg", "photo.2.80x80.jpg", "photo.1.140x80.jpg"]
    for entry in record["crops"]:
        with Image.open(tmp_path / "sub" / entry["file"]) as im:
            assert im.format == "JPEG" and list(im.size) == entry["size"]
            assert im.info.get("icc_profile") == icc
    assert [c["ratio"] for c in record["crops"]] == ["1:1", "1:1", "7:4"]
    assert record["crops"][0]["explain"] == {"a": 0.5}
    assert record["crops"][2]["padded"] and record["crops"][2]["pad_color"] == [1, 2, 3]
    assert record["overlay"] == "photo.overlay.png" and (tmp_path / "sub" / "photo.overlay.png").is_file()
    on_disk = json.loads(paths.record.read_text())
    assert on_disk == record
    assert on_disk["grounding"][0]["phrase"] == "the cat" and on_disk["image_size"] == [120, 80]
    assert on_disk["fingerprint"] == "abc" and on_disk["input"] == "in/photo.jpg"
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_padded_crop_pixels_outside_the_image_use_the_pad_colour(tmp_path):
    record = write_outputs(OutputPaths(tmp_path, "p"), _image("PNG"), _prediction(), **_context())
    with Image.open(tmp_path / record["crops"][2]["file"]) as im:
        arr = np.asarray(im)
    assert arr.shape == (80, 140, 3)
    assert (arr[:, :10] == (1, 2, 3)).all() and (arr[:, -10:] == (1, 2, 3)).all()
    assert "explain" not in record["crops"][0]


def test_record_complete_needs_fingerprint_and_every_file(tmp_path):
    paths = OutputPaths(tmp_path, "photo")
    assert not record_is_complete(paths, "abc")
    record = write_outputs(paths, _image(), _prediction(), **_context(), overlay=True)
    assert record_is_complete(paths, "abc")
    assert not record_is_complete(paths, "other")
    (tmp_path / record["overlay"]).unlink()
    assert not record_is_complete(paths, "abc")
    paths.record.write_text("{not json")
    assert not record_is_complete(paths, "abc")


def test_same_pixel_size_for_two_ratios_does_not_collide(tmp_path):
    crops = [CropResult(box=(0, 0, 50, 50), score=0.5, rank=1, aspect=a, mode="offline", ratio=label)
             for a, label in ((1.0, "1"), (1.01, "1.01"))]
    pred = Prediction(crops=crops, image_size=(120, 80), mode="offline")
    record = write_outputs(OutputPaths(tmp_path, "p"), _image("PNG"), pred, **_context())
    assert [c["file"] for c in record["crops"]] == ["p.1.50x50.png", "p.1.50x50-2.png"]


def test_never_overwrites_a_protected_input(tmp_path):
    victim = tmp_path / "p.1.80x80.png"
    victim.write_bytes(b"original")
    with pytest.raises(OSError, match="refusing to overwrite"):
        write_outputs(OutputPaths(tmp_path, "p"), _image("PNG"), _prediction(), **_context(),
                      protected=frozenset({victim.resolve()}))
    assert victim.read_bytes() == b"original"
    assert not (tmp_path / "p.json").exists()


def test_output_size_names_the_file_after_the_resized_crop(tmp_path):
    crop = CropResult(box=(0, 0, 80, 64), score=0.5, rank=1, aspect=1.25, mode="offline", output_size=(40, 32),
                      ratio="40x32")
    pred = Prediction(crops=[crop], image_size=(120, 80), mode="offline")
    record = write_outputs(OutputPaths(tmp_path, "p"), _image(None), pred, **_context())
    assert record["crops"][0]["file"] == "p.1.40x32.png" and record["crops"][0]["ratio"] == "40x32"
    with Image.open(tmp_path / "p.1.40x32.png") as im:
        assert im.size == (40, 32)


def test_overlay_draws_on_a_copy_of_the_image_size():
    image = _image()
    pred = _prediction()
    overlay = draw_overlay(image.array, pred)
    assert overlay.size == (120, 80) and overlay.mode == "RGB"
    arr = np.asarray(overlay)
    assert not np.array_equal(arr, image.array)  # something was drawn
    assert (arr[10:50, 58:60] == 255).all(axis=-1).any()  # the grounded box's dashed right edge
    buf = io.BytesIO()
    overlay.save(buf, format="PNG")
    assert buf.tell() > 0



@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names open files through /proc")
def test_files_the_record_names_are_synced_and_the_record_is_not(tmp_path, monkeypatch):
    import promptcrop.images as images

    synced: list[str] = []  # ".<name>.<hex>.tmp" → "<name>"
    monkeypatch.setattr(images.os, "fsync", lambda fd: synced.append(
        os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))[1:].rsplit(".", 2)[0]))
    record = write_outputs(OutputPaths(tmp_path, "p"), _image("PNG"), _prediction(), **_context(), overlay=True)
    assert sorted(synced) == sorted([*(c["file"] for c in record["crops"]), record["overlay"]])
    assert json.loads((tmp_path / "p.json").read_text()) == record  # written, not synced
