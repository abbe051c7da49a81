"""Labelled photos to face crops: the one face of each photo, for datasets of uncropped images."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from ferganaug.data.dataset import IMAGE_SIZE
from ferganaug.data.errors import DataError
from ferganaug.faces.align import align_faces
from ferganaug.faces.detect import create_detector, detect_faces
from ferganaug.faces.photo import read_photo


def largest_face_crops(
    paths: Sequence[str | os.PathLike], detector_name: str
) -> tuple[torch.Tensor, list[int], list[tuple[int, str]], list[int]]:
    """The largest face of each photo, aligned to uint8 [K, 1, 48, 48].

    A labelled photo shows one subject, and when a detector also finds a face in the
    background the subject's is the largest. Returns (crops, indices of the K photos with a
    face, unreadable photos as (index, message), indices of readable photos with no face).
    """
    detector = create_detector(detector_name)
    crops = np.empty((len(paths), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    ok, failures, no_face = [], [], []
    for i, path in enumerate(paths):
        try:
            photo = read_photo(path)
        except DataError as exc:
            failures.append((i, str(exc)))
            continue
        faces = detect_faces(detector, photo)
        if not faces:
            no_face.append(i)
            continue
        largest = max(faces, key=lambda f: f.box[2] * f.box[3])
        crops[len(ok)] = align_faces(photo, [largest])[0][0]
        ok.append(i)
    return torch.from_numpy(crops[: len(ok)]).unsqueeze(1), ok, failures, no_face
