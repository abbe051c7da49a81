"""`fergan transfer` (layer 2): a trained generator applied to a user's photos, every face found,
aligned, edited and pasted back, or shown beside its edit to every emotion."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from ferganaug.data.augment import to_model_input
from ferganaug.data.errors import DataError
from ferganaug.data.images import load_face_image
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.faces.align import align_faces
from ferganaug.faces.blend import paste_edit
from ferganaug.faces.detect import FaceDetector, detect_faces
from ferganaug.faces.photo import encode_photo, read_photo
from ferganaug.gan.images import save_face_png, save_labelled_grid
from ferganaug.synth import LoadedGenerator, load_generator_file
from ferganaug.utils.files import atomic_write_bytes, check_writable, fresh_output_paths


@torch.no_grad()
def transfer(
    generator: str | Path,
    images: Sequence[Path],
    out: str | Path,
    emotion: str | None = None,
    reference: Path | None = None,
    detector: FaceDetector | None = None,
    grid: bool = False,
) -> TransferResult:
    """Apply the generator to a user's photos.

    With a ``detector``, every face in each photo is found, aligned and edited; with an
    ``emotion`` (and no ``grid``) the edits are pasted back into the photo at its resolution
    (``photo_happy.png``: the whole photo, changed expression); otherwise a labelled grid shows
    each face beside its edit to every emotion. Without a detector each image is taken as one
    pre-cropped face. Photos with no face are listed in the result, not an error.
    """
    gen = load_generator_file(generator)
    out = Path(out)
    check_writable(out)
    if gen.model.condition == "reference" and reference is None:
        raise DataError(f"{gen.path} is conditioned on reference faces; give --reference IMAGE")
    grid = grid or emotion is None
    targets = fresh_output_paths(images, out, "all-emotions" if grid else emotion, ".png", "fergan transfer")
    edit_to = [emotion] if emotion and not grid else list(EMOTIONS)
    result = TransferResult([], [])
    for path, target in zip(images, targets):
        photo, faces, crops, matrices = _faces_of(path, detector)
        if not len(crops):
            result.no_face.append(Path(path))
            continue
        edits = _edit_faces(gen, torch.from_numpy(crops), edit_to, reference)
        if grid:
            rows = torch.stack([torch.stack([torch.from_numpy(crops[k])] + [e[k] for e in edits]) for k in range(len(crops))])
            labels = [Path(path).name] if len(crops) == 1 else [f"{Path(path).name} face {k}" for k in range(len(crops))]
            save_labelled_grid(rows, target, row_labels=labels, col_labels=["input", *edit_to], scale=3)
        elif detector is None:
            save_face_png(edits[0][0].unsqueeze(0), target)
        else:
            for k, matrix in enumerate(matrices):
                photo = paste_edit(photo, matrix, crops[k], edits[0][k].numpy())
            atomic_write_bytes(target, encode_photo(photo, target.suffix))
        result.written.append(target)
    return result


@dataclass
class TransferResult:
    written: list[Path]
    no_face: list[Path]


def _faces_of(path: Path, detector: FaceDetector | None) -> tuple:
    """(photo RGB or None, faces, uint8 crops [N, 48, 48], photo->crop matrices)."""
    if detector is None:
        return None, [], load_face_image(path).numpy(), []
    photo = read_photo(path)
    faces = detect_faces(detector, photo)
    crops, matrices = align_faces(photo, faces)
    return photo, faces, crops, matrices


def _edit_faces(gen: LoadedGenerator, faces: torch.Tensor, emotions: Sequence[str], reference: Path | None) -> list[torch.Tensor]:
    """uint8 edits [N, 48, 48] of uint8 faces [N, 48, 48], one tensor per target emotion."""
    x = to_model_input(faces.unsqueeze(1))
    outputs = []
    for name in emotions:
        if gen.model.condition == "reference":
            cond = to_model_input(load_face_image(reference)).unsqueeze(0).expand(len(x), -1, -1, -1)
        else:
            cond = torch.full((len(x),), EMOTION_INDEX[name])
        with torch.no_grad():
            edited, _ = gen.model(x, cond)
        outputs.append(((edited.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0])
    return outputs
