"""Data readers shared by training and evaluation: GAIC (:mod:`~promptcrop.data.gaic`) and the
caption-crop and phrase-box sets (:mod:`~promptcrop.data.datasets`). Boxes are xyxy pixels of the
EXIF-upright image.
"""
