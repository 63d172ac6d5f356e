"""Model backends: the same encoder and decoder forwards run by PyTorch or by ONNX Runtime.

The PyTorch implementation is :class:`promptcrop.encoder.OwlViTEncoder` and
:class:`promptcrop.decoder.ClipCropDecoder`; :mod:`promptcrop.backends.onnx` runs graphs written
by :mod:`promptcrop.backends.export` (``promptcrop export-onnx``). Both return torch tensors, so
grounding, composition and post-processing are one code for every backend.
"""
