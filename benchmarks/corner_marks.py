"""Precision and recall of :func:`promptcrop.saliency.corner_marks` (corner text and watermarks).

False positives: every ordinary photo that ships with the installed packages (scikit-image's data
folder, scikit-learn's sample images, matplotlib's sample data; documents, drawings and test
patterns left out: text on a page is no watermark) is searched, and any mark found on it counts.

Recall: generated marks — Pillow's default font (bitmap and 14 / 20 / 28 / 40 px), white, black and
see-through white (47 %, 31 %) or black (39 %), with and without a contrasting box behind, in all
four corners of eight real photos — of which those fitting the searched corner share (text at
most 23 % of the width) are drawn. A mark counts as found when the found boxes on its line cover
more than half of its width. "Visible" marks are those whose text differs from what is under it
by at least ``VISIBLE`` grey levels (median over its pixels): white text on a white table is not.

Last line: ``RESULT photos=<n> photos_with_marks=<n> recall=<found / marks>
recall_visible=<found / visible marks> ms_per_photo=<mean>``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from promptcrop.saliency import corner_marks

VISIBLE = 40.0
NOT_PHOTOS = {"page.png", "text.png", "logo.png", "logo2.png", "chessboard_GRAY.png", "chessboard_RGB.png",
              "phantom.png", "cell.png", "color.png", "microaneurysms.png", "Minduka_Present_Blue_Pack.png"}
HOSTS = ["astronaut.png", "coffee.png", "chelsea.png", "china.jpg", "grace_hopper.jpg", "rocket.jpg",
         "motorcycle_left.png", "hubble_deep_field.jpg"]
TEXTS = ["(c) stock-photos.example", "© stockphoto", "Photo: J. Smith 2024", "www.example.com"]
FILLS = {"white": (255, 255, 255, 255), "black": (0, 0, 0, 255), "white47": (255, 255, 255, 120),
         "black39": (0, 0, 0, 100), "white31": (255, 255, 255, 80)}


def package_photos() -> dict[str, Image.Image]:
    folders = []
    for module, sub in (("skimage.data", ""), ("sklearn.datasets", "images"), ("matplotlib", "mpl-data/sample_data")):
        try:
            found = __import__(module, fromlist=["_"])
        except ImportError:
            continue
        folders.append(Path(found.__file__).parent / sub)
    photos = {}
    for folder in folders:
        for path in sorted(folder.glob("*.[jp][pn]g")):
            if path.name not in NOT_PHOTOS:
                photos[path.name] = Image.open(path).convert("RGB")
    return photos


def with_mark(photo: Image.Image, corner: tuple[int, int], size: int | None, fill: tuple, boxed: bool, text: str):
    """``(image [H, W, 3] uint8, text box [4] xyxy px, visibility)``, or None when the text is wider
    than the searched corner."""
    image = photo.convert("RGBA")
    width, height = image.size
    font = ImageFont.load_default(size=size) if size else ImageFont.load_default()
    x1, y1, x2, y2 = ImageDraw.Draw(image).textbbox((0, 0), text, font=font)
    if x2 - x1 > 0.23 * width:
        return None
    margin = max(4, width // 40)
    x = margin if corner[0] == 0 else width - (x2 - x1) - margin
    y = margin if corner[1] == 0 else height - (y2 - y1) - margin
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    if boxed:
        ImageDraw.Draw(layer).rectangle((x + x1 - 4, y + y1 - 3, x + x2 + 4, y + y2 + 3),
                                        fill=(0, 0, 0, 110) if fill[0] > 100 else (255, 255, 255, 110))
    under = np.asarray(Image.alpha_composite(image, layer).convert("L"), dtype=float)
    glyphs = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(glyphs).text((x, y), text, font=font, fill=fill)
    out = Image.alpha_composite(image, Image.alpha_composite(layer, glyphs)).convert("RGB")
    inked = np.asarray(glyphs)[..., 3] > 0
    visibility = float(np.median(np.abs(np.asarray(out.convert("L"), dtype=float) - under)[inked]))
    return np.asarray(out), np.array([x + x1, y + y1, x + x2, y + y2], dtype=float), visibility


def found(boxes: np.ndarray, text: np.ndarray) -> bool:
    """Whether the boxes on the text's line cover more than half of its width."""
    covered = np.zeros(int(text[2] - text[0]) + 1, dtype=bool)
    for box in boxes:
        if box[1] < text[3] and box[3] > text[1]:
            covered[max(0, int(box[0] - text[0])):max(0, int(box[2] - text[0]))] = True
    return bool(covered.mean() > 0.5)


def main() -> None:
    photos = package_photos()
    print(f"{len(photos)} package photos: {' '.join(photos)}")
    fired, times = [], []
    for name, photo in photos.items():
        arr = np.asarray(photo)
        start = time.perf_counter()
        boxes = corner_marks(arr)
        times.append(time.perf_counter() - start)
        if len(boxes):
            fired.append(name)
            print(f"  false positive on {name} {photo.size}: {boxes.round().tolist()}")
    print(f"photos with a mark found: {len(fired)} of {len(photos)}; "
          f"{1000 * np.mean(times):.1f} ms a photo (max {1000 * max(times):.1f})")
    hosts = [h for h in HOSTS if h in photos]
    total = hits = visible = hits_visible = 0
    misses: dict[tuple, int] = {}
    for host in hosts:
        for c, corner in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
            for size in (None, 14, 20, 28, 40):
                for style, fill in FILLS.items():
                    for boxed in (False, True):
                        made = with_mark(photos[host], corner, size, fill, boxed, TEXTS[(c + (size or 0)) % len(TEXTS)])
                        if made is None:
                            continue
                        arr, text, visibility = made
                        ok = found(corner_marks(arr), text)
                        seen = visibility >= VISIBLE
                        total, hits = total + 1, hits + ok
                        visible, hits_visible = visible + seen, hits_visible + (ok and seen)
                        if seen and not ok:
                            key = (style, "boxed" if boxed else "bare", size or "bitmap")
                            misses[key] = misses.get(key, 0) + 1
    print(f"marks drawn: {total} on {len(hosts)} photos; found {hits} ({hits / total:.3f}); "
          f"visible {visible}, found {hits_visible} ({hits_visible / visible:.3f})")
    for key, count in sorted(misses.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  missed visible {key}: {count}")
    print(f"RESULT photos={len(photos)} photos_with_marks={len(fired)} recall={hits / total:.3f} "
          f"recall_visible={hits_visible / visible:.3f} ms_per_photo={1000 * np.mean(times):.1f}")


if __name__ == "__main__":
    main()
