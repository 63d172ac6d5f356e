"""The ClipCrop model (PyTorch): the OWL-ViT encoder (:mod:`~promptcrop.model.encoder`), grounding of
the query (:mod:`~promptcrop.model.grounding`), the DETR-like crop decoder
(:mod:`~promptcrop.model.decoder`) and its safetensors + JSON checkpoints
(:mod:`~promptcrop.model.checkpoint`). Inside the model boxes are normalised cxcywh.
"""
