"""Inference backends: what runs the model forwards behind the :class:`~promptcrop.Predictor`.

:mod:`promptcrop.backends.base` defines the two interfaces (:class:`~.base.Encoder`,
:class:`~.base.Decoder`). The PyTorch implementations are :class:`promptcrop.model.encoder.OwlViTEncoder`
and :class:`promptcrop.model.decoder.ClipCropDecoder`; :mod:`promptcrop.backends.onnx` runs the graphs
written by :mod:`promptcrop.backends.export` (``promptcrop export-onnx``) in ONNX Runtime. Every
backend implements the same protocols and returns torch tensors, so pre-processing, grounding,
composition and post-processing are shared code.
"""
