"""Inference backends: what runs the model forwards behind the :class:`~promptcrop.Predictor`.

:mod:`promptcrop.backends.base` defines the two interfaces (:class:`~.base.Encoder`,
:class:`~.base.Decoder`). The PyTorch implementations are :class:`promptcrop.encoder.OwlViTEncoder`
and :class:`promptcrop.decoder.ClipCropDecoder`; other backends implement the same protocols, so
pre-processing, grounding, composition and post-processing are shared code.
"""
