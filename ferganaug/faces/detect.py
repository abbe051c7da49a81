"""Face detectors: every face in an RGB image, with its box, in a stable order.

Two backends, chosen by name (``create_detector``, ``--detector``):

- ``haar``: OpenCV's frontal-face Haar cascade (alt2), whose XML ships in the opencv wheel
  (``cv2.data``); fast and always installed, no landmarks, so crops are not rotated.
- ``mtcnn``: the MTCNN of facenet-pytorch, whose three weight files ship in its wheel; gives
  five landmarks (eyes, nose, mouth corners), so crops are rotated upright. facenet-pytorch
  2.6's metadata pins torch below 2.3, so it is not a dependency: install it with
  ``pip install requests && pip install --no-deps facenet-pytorch==2.6.0``.

Detection runs on a copy whose long side is at most ``max_side`` pixels (an 8000x6000
photo costs what a 1024x768 one does); boxes and landmarks come back in the photo's own
pixels, so crops are cut from the original resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ferganaug.data.errors import DataError

DEFAULT_MAX_SIDE = 1024
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # image left/right


@dataclass(frozen=True)
class Face:
    """One detected face in a photo's pixel coordinates.

    ``box`` is (x, y, width, height); ``landmarks`` is None or five (x, y) points in the order
    of LANDMARK_NAMES ("left" is the image's left); ``score`` is the detector's confidence
    (MTCNN: a probability; Haar: the cascade's level weight, larger is surer).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None

    def scaled(self, factor: float) -> Face:
        box = tuple(v * factor for v in self.box)
        marks = None if self.landmarks is None else tuple((x * factor, y * factor) for x, y in self.landmarks)
        return Face(box, self.score, marks)  # type: ignore[arg-type]

    def to_record(self) -> dict:
        """JSON-ready: box as x, y, width, height (rounded to 0.1 px), landmarks by name."""
        record = {"box": [round(v, 1) for v in self.box], "score": round(self.score, 4)}
        record["landmarks"] = (None if self.landmarks is None
                               else {n: [round(x, 1), round(y, 1)] for n, (x, y) in zip(LANDMARK_NAMES, self.landmarks)})
        return record


class FaceDetector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, in its pixel coordinates, in any order."""


class HaarDetector:
    """OpenCV's ``haarcascade_frontalface_alt2`` on the grey image.

    alt2 rather than the default cascade: on faceless photos the default fired 17 times where
    alt2 fired once (docs/experiments/faces.md). No histogram equalisation: done globally, it
    crushes a face's contrast whenever a flat background fills most of the frame."""

    name = "haar"

    def __init__(self, min_neighbors: int = 5, scale_factor: float = 1.1, min_face: int = 20,
                 cascade: str = "haarcascade_frontalface_alt2.xml") -> None:
        path = cv2.data.haarcascades + cascade
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise DataError(f"cannot load the Haar cascade {path} (is opencv-contrib-python-headless<5 installed?)")
        self.min_neighbors, self.scale_factor, self.min_face = min_neighbors, scale_factor, min_face

    def detect(self, rgb: np.ndarray) -> list[Face]:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if min(grey.shape) < self.min_face:
            return []
        boxes, _, weights = self.cascade.detectMultiScale3(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_face, self.min_face), outputRejectLevels=True,
        )
        return [Face(tuple(float(v) for v in box), float(w)) for box, w in zip(boxes, np.ravel(weights))]


class MTCNNDetector:
    """facenet-pytorch's MTCNN (P-, R- and O-Net cascade) with its five landmarks."""

    name = "mtcnn"

    def __init__(self, min_score: float = 0.9, min_face: int = 20) -> None:
        try:
            from facenet_pytorch.models.mtcnn import MTCNN
        except ImportError as exc:
            raise DataError(
                f"--detector mtcnn needs facenet-pytorch ({exc}); install it with "
                "`pip install requests && pip install --no-deps facenet-pytorch==2.6.0` "
                "(its metadata pins an old torch, the code runs on this one), or use --detector haar"
            ) from None
        self.model = MTCNN(keep_all=True, min_face_size=min_face, device="cpu")
        self.min_score = min_score

    def detect(self, rgb: np.ndarray) -> list[Face]:
        if min(rgb.shape[:2]) < 12:  # below P-Net's window: MTCNN cannot see a face there
            return []
        boxes, probs, marks = self.model.detect(rgb, landmarks=True)
        if boxes is None:
            return []
        faces = []
        for (x0, y0, x1, y1), p, m in zip(boxes, probs, marks):
            if p >= self.min_score:
                faces.append(Face((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), float(p),
                                  tuple((float(x), float(y)) for x, y in m)))
        return faces


DETECTORS = {"haar": HaarDetector, "mtcnn": MTCNNDetector}  # keys: DETECTOR_NAMES


def create_detector(name: str, **kwargs) -> FaceDetector:
    """A detector by name (``haar`` or ``mtcnn``)."""
    if name not in DETECTORS:
        raise DataError(f"unknown face detector {name!r}; expected one of {', '.join(DETECTORS)}")
    return DETECTORS[name](**kwargs)


def detect_faces(detector: FaceDetector, rgb: np.ndarray, max_side: int = DEFAULT_MAX_SIDE) -> list[Face]:
    """Every face in ``rgb`` in the photo's pixels, ordered left to right (then top to bottom),
    so face 0 of an image is the same face however often it is detected."""
    height, width = rgb.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    small = rgb if factor == 1.0 else cv2.resize(
        rgb, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
    faces = [face.scaled(1.0 / factor) for face in detector.detect(small)]
    return sorted(faces, key=lambda f: (round(f.box[0] + f.box[2] / 2), round(f.box[1] + f.box[3] / 2)))


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def eye_angle(face: Face) -> float:
    """Degrees the eye line is tilted (positive: the image-right eye is lower); 0 without landmarks."""
    if face.landmarks is None:
        return 0.0
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
    return math.degrees(math.atan2(ry - ly, rx - lx))
