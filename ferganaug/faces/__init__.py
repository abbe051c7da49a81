"""Faces in the wild: photos in, boxes and aligned crops out (layer 0).

- :mod:`photo` reads any photo as RGB uint8, with a clear error for what it cannot read;
- :mod:`detect` finds every face (``haar``: OpenCV's cascade, shipped in the opencv wheel;
  ``mtcnn``: facenet-pytorch's weights when that package is installed), in a stable order;
- :mod:`align` cuts each face as a square with a margin, upright by the eye line when the
  detector gives landmarks, at the recognisers' 48x48 grey;
- :mod:`blend` pastes an edited crop back into the photo at its own resolution;
- :mod:`track` follows faces through video frames between detections;
- :mod:`draw` draws boxes and labels.

Nothing here knows about recognisers or generators: the CLIs compose them.
"""

DETECTOR_NAMES = ("haar", "mtcnn")  # here, not in detect.py, so a CLI lists them without importing OpenCV
