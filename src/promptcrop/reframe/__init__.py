"""``promptcrop reframe``: a landscape video cut to 9:16, 1:1, 4:5... that follows what you name.

A front end over the one :class:`~promptcrop.predictor.Predictor`: keyframes go through its
offline or query modes, :mod:`~promptcrop.reframe.shots` finds the cuts,
:mod:`~promptcrop.reframe.path` solves a smooth camera path per shot, and
:mod:`~promptcrop.reframe.video` renders it with PyAV, audio copied. Needs the ``video`` extra
(``pip install 'promptcrop[video]'``). docs/REFRAME.md describes the options and the JSON.

    from promptcrop import Predictor
    from promptcrop.reframe import Reframer, ReframeOptions

    reframer = Reframer(Predictor(model=None, mode="offline"), ReframeOptions(ratios=("9:16",)), "out")
    results = reframer.run("talk.mp4")   # out/talk.9x16.mp4 and out/talk.9x16.reframe.json
"""

from promptcrop.reframe.path import PathConfig
from promptcrop.reframe.runner import ReframeOptions, Reframer, ReframeResult, ReframeSummary
from promptcrop.reframe.shots import ShotConfig
from promptcrop.reframe.subjects import AnalysisConfig
from promptcrop.reframe.video import EncodeOptions, VideoError

__all__ = [
    "AnalysisConfig", "EncodeOptions", "PathConfig", "ReframeOptions", "ReframeResult", "ReframeSummary",
    "Reframer", "ShotConfig", "VideoError",
]
