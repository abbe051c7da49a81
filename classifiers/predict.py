"""Predictions for image files, in a stable documented schema (JSON or CSV)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import torch

from classifiers.checkpoint import load_classifier
from classifiers.inference import fold_batchnorm, predict_logits
from ferganaug.data.images import load_face_image
from ferganaug.utils.files import json_text
from ferganaug.utils.precision import NumericPath

SCHEMA_VERSION = 1


def predict_files(checkpoint: str | Path, paths: Sequence[Path]) -> dict:
    """{"schema": 1, "model", "class_names", "predictions": [{"path", "emotion", "confidence",
    "probabilities": {name: p}}]} in the order the paths were given."""
    model, artifact = load_classifier(checkpoint)
    model = fold_batchnorm(model)
    images = torch.stack([load_face_image(p) for p in paths])
    logits = predict_logits(model, images, NumericPath("fp32", False), torch.device("cpu"))
    probs = logits.softmax(dim=1)
    names = artifact["class_names"]
    predictions = []
    for path, p in zip(paths, probs):
        top = int(p.argmax())
        predictions.append({
            "path": str(path),
            "emotion": names[top],
            "confidence": round(float(p[top]), 6),
            "probabilities": {name: round(float(v), 6) for name, v in zip(names, p)},
        })
    return {"schema": SCHEMA_VERSION, "model": artifact["model_name"], "class_names": names, "predictions": predictions}


def to_json(result: dict) -> str:
    return json_text(result) + "\n"


def to_csv(result: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "emotion", "confidence", *(f"p_{n}" for n in result["class_names"])])
    for row in result["predictions"]:
        writer.writerow([row["path"], row["emotion"], row["confidence"],
                         *(row["probabilities"][n] for n in result["class_names"])])
    return out.getvalue()
