"""Predictions for image files, one record per face, in a stable versioned schema (JSON or CSV).

Schema 2. JSON: ``{"schema": 2, "model", "class_names", "decision_bias", "detector", "predictions":
[record]}``, records in input order, then face order (left to right); ``decision_bias`` is
{emotion: bias} for a model whose boundaries ``fer-classify shift`` moved, else null. A record:

- ``path``: the image as given; ``face``: the face's index in the image (0, 1, ...), or null
  when no face was found or detection was off (``--no-detect``: the whole image is the face);
- ``box``: [x, y, width, height] in the image's pixels (null without detection);
  ``landmarks``: {left_eye, right_eye, nose, mouth_left, mouth_right: [x, y]} when the
  detector gives them (mtcnn), else null; ``detector_score``: the detector's confidence;
- ``emotion``, ``confidence``, ``probabilities`` {emotion: p}: null for an image with no face;
- ``status``: ``ok``, ``no_face`` or, with skip_bad, ``unreadable`` (then ``error`` says why).

CSV: one row per record, columns ``path, face, status, box_x, box_y, box_w, box_h,
detector_score, emotion, confidence, p_<emotion>..., <landmark>_x, <landmark>_y...`` (empty
cells for nulls).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from classifiers.boundary import apply_decision_bias, decision_bias
from classifiers.checkpoint import load_classifier
from classifiers.inference import CPU, FP32, fold_batchnorm, predict_logits
from ferganaug.data.dataset import IMAGE_SIZE
from ferganaug.data.errors import DataError
from ferganaug.data.images import load_face_image
from ferganaug.faces.align import align_faces
from ferganaug.faces.detect import LANDMARK_NAMES, Face, FaceDetector, detect_faces
from ferganaug.faces.draw import draw_faces
from ferganaug.faces.photo import encode_photo, read_photo
from ferganaug.utils.files import atomic_write_bytes, json_text

SCHEMA_VERSION = 2


class FacePredictor:
    """A loaded recogniser: uint8 faces [N, 48, 48] in, probabilities [N, classes] out."""

    def __init__(self, checkpoint: str | Path) -> None:
        model, artifact = load_classifier(checkpoint)
        self.model = fold_batchnorm(model)
        self.class_names: list[str] = list(artifact["class_names"])
        self.model_name: str = artifact["model_name"]
        self.bias = decision_bias(artifact)  # a boundary moved by fer-classify shift, or None
        # torch sets up its kernels on the first call: here, not in the first face's (or frame's) time
        self.probabilities(torch.zeros(1, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8))

    def probabilities(self, faces: np.ndarray | torch.Tensor) -> torch.Tensor:
        faces = torch.as_tensor(faces)
        if len(faces) == 0:
            return torch.empty(0, len(self.class_names))
        if faces.dim() == 3:
            faces = faces.unsqueeze(1)
        return apply_decision_bias(predict_logits(self.model, faces, FP32, CPU), self.bias).softmax(dim=1)

    def shifted_emotions(self) -> dict[str, float] | None:
        """{emotion: bias} of the boundaries fer-classify shift moved, or None for a plain model."""
        if self.bias is None:
            return None
        return {name: float(b) for name, b in zip(self.class_names, self.bias) if b != 0}


def predict_files(
    checkpoint: str | Path,
    paths: Sequence[Path],
    detector: FaceDetector | None = None,
    annotate: Sequence[Path] | None = None,
    skip_bad: bool = False,
) -> dict:
    """Records for every face in ``paths`` (the module docstring's schema). With
    ``detector=None`` each image is taken as one pre-cropped face. ``annotate`` gives, per
    image, where to write it with its faces boxed and labelled."""
    predictor = FacePredictor(checkpoint)
    names = predictor.class_names
    records: list[dict] = []
    for i, path in enumerate(paths):
        try:
            if detector is None:
                records.append(_face_record(path, None, predictor.probabilities(load_face_image(path)[None])[0], names))
                continue
            photo = read_photo(path)
        except DataError as exc:
            if not skip_bad:
                raise
            records.append(_empty_record(path, "unreadable") | {"error": str(exc)})
            continue
        faces = detect_faces(detector, photo)
        crops, _ = align_faces(photo, faces)
        probs = predictor.probabilities(crops)
        if not faces:
            records.append(_empty_record(path, "no_face"))
        records.extend(_face_record(path, (k, face), p, names) for k, (face, p) in enumerate(zip(faces, probs)))
        if annotate is not None:
            labels = [f"{k} {names[int(p.argmax())]} {float(p.max()):.2f}" for k, p in enumerate(probs)]
            atomic_write_bytes(annotate[i], encode_photo(draw_faces(photo, faces, labels), annotate[i].suffix))
    return {"schema": SCHEMA_VERSION, "model": predictor.model_name, "class_names": names,
            "decision_bias": predictor.shifted_emotions(),
            "detector": None if detector is None else detector.name, "predictions": records}


def _face_record(path: Path, face: tuple[int, Face] | None, probs: torch.Tensor, names: list[str]) -> dict:
    top = int(probs.argmax())
    record = _empty_record(path, "ok")
    if face is not None:
        index, found = face
        detected = found.to_record()
        record |= {"face": index, "box": detected["box"], "landmarks": detected["landmarks"],
                   "detector_score": detected["score"]}
    return record | {"emotion": names[top], "confidence": round(float(probs[top]), 6),
                     "probabilities": {n: round(float(v), 6) for n, v in zip(names, probs)}}


def _empty_record(path: Path, status: str) -> dict:
    return {"path": str(path), "face": None, "status": status, "box": None, "landmarks": None,
            "detector_score": None, "emotion": None, "confidence": None, "probabilities": None}


def to_json(result: dict) -> str:
    return json_text(result) + "\n"


def to_csv(result: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = result["class_names"]
    marks = [f"{m}_{axis}" for m in LANDMARK_NAMES for axis in ("x", "y")]
    writer.writerow(["path", "face", "status", "box_x", "box_y", "box_w", "box_h", "detector_score",
                     "emotion", "confidence", *(f"p_{n}" for n in names), *marks])
    for row in result["predictions"]:
        box = row["box"] or [None] * 4
        probs = row["probabilities"] or {}
        landmarks = row["landmarks"] or {}
        points = [v for m in LANDMARK_NAMES for v in landmarks.get(m, [None, None])]
        cells = [row["path"], row["face"], row["status"], *box, row["detector_score"], row["emotion"],
                 row["confidence"], *(probs.get(n) for n in names), *points]
        writer.writerow(["" if c is None else c for c in cells])
    return out.getvalue()
