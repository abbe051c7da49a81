"""`fergan synthesize` and `fergan transfer` (layer 2): a trained generator applied in bulk.

Synthesis writes ``OUT/<emotion>/<NNNNNN>.png`` and ``OUT/manifest.jsonl``. Image i of an
emotion is a pure function of (seed, emotion, i): its source face is drawn from a generator
seeded with that triple, so any image can be regenerated alone, and a re-run continues at
the first index the manifest lacks. The folder's commit protocol (one writer, whole rows, the
generator named by a hash of its weights) is ferganaug.data.synthetic_folder's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from tqdm import tqdm

from ferganaug.data.augment import to_model_input
from ferganaug.data.dataset import FaceDataset
from ferganaug.data.errors import DataError
from ferganaug.data.images import load_face_image
from ferganaug.data.spec import load_dataset
from ferganaug.data.synthetic_folder import (
    MANIFEST, append_rows, is_disk_full, read_rows, repair_torn_tail, sweep_temp_files, writer_lock,
)
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.gan.images import png_bytes, save_face_png, save_labelled_grid
from ferganaug.gan.networks import Generator
from ferganaug.gan.train import GENERATOR_KIND, load_generator
from ferganaug.engine.checkpoint import CheckpointError, load_checkpoint, weights_digest
from ferganaug.faces.align import align_faces
from ferganaug.faces.blend import paste_edit
from ferganaug.faces.detect import FaceDetector, detect_faces
from ferganaug.faces.photo import encode_photo, read_photo
from ferganaug.utils.files import atomic_write_bytes, check_writable, fresh_output_paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedGenerator:
    model: Generator
    path: str
    step: int
    source_emotions: tuple[str, ...]
    data_spec: str | None  # the data it was trained on, when its run folder says
    digest: str  # of its weights: the same network whatever its file is called


def load_generator_file(path: str | Path) -> LoadedGenerator:
    """A generator from a `fergan train` run folder or its generator.pt."""
    artifact = load_checkpoint(path, (GENERATOR_KIND,), ("generator.pt",), expected="a generator written by fergan train")
    if list(artifact.get("class_names", [])) != list(EMOTIONS):
        raise CheckpointError(
            f"{artifact['_path']}: the generator's emotions {artifact.get('class_names')} are not the toolkit's "
            f"{list(EMOTIONS)}"
        )
    config_file = Path(artifact["_path"]).parent / "config.json"
    spec = None
    if config_file.is_file():
        try:
            spec = json.loads(config_file.read_text())["data"]["spec"]
        except (OSError, ValueError, KeyError, TypeError):
            raise DataError(f"{config_file} beside the generator is not a readable fergan train config.json; give "
                            "--sources SPEC, or point --generator at the generator.pt file in a folder of its own") from None
    return LoadedGenerator(
        load_generator(artifact), artifact["_path"], int(artifact["step"]),
        tuple(artifact["source_emotions"]), spec, weights_digest(artifact["state_dict"]),
    )


# Every edit runs in a batch of exactly this many faces (padded): convolution kernels may pick
# another algorithm for another batch size, which moves a pixel by one grey level now and then,
# and image i must be the same whether it was made alone, in a continued run or from scratch.
EDIT_BATCH = 64


def edit_faces(model: Generator, faces: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The generator's edits of model-input ``faces`` to ``targets`` as uint8 [N, 1, H, W]."""
    out = []
    for start in range(0, len(faces), EDIT_BATCH):
        chunk, chunk_targets = faces[start : start + EDIT_BATCH], targets[start : start + EDIT_BATCH]
        pad = EDIT_BATCH - len(chunk)
        if pad:
            chunk = torch.cat([chunk, chunk.new_zeros(pad, *chunk.shape[1:])])
            chunk_targets = torch.cat([chunk_targets, chunk_targets.new_zeros(pad)])
        edited, _ = model(chunk, chunk_targets)
        out.append(edited[: EDIT_BATCH - pad])
    return ((torch.cat(out).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def image_seed(seed: int, emotion: str, index: int) -> int:
    """The per-image seed: distinct for every (run seed, emotion, index)."""
    return ((seed * 1_000_003 + EMOTION_INDEX[emotion]) * 10_000_019 + index) % (2**63 - 1)


def _source_pool(gen: LoadedGenerator, sources: str | None) -> tuple[FaceDataset, torch.Tensor, str]:
    spec = sources or gen.data_spec
    if spec is None:
        raise DataError(f"{gen.path} has no run folder naming its training data; give --sources SPEC")
    train = load_dataset(spec).split("train")  # synthetic faces only ever come from training sources
    wanted = torch.tensor([EMOTION_INDEX[e] for e in gen.source_emotions])
    rows = torch.isin(train.labels, wanted).nonzero().flatten()
    if len(rows) == 0:
        raise DataError(f"'{spec}' has no {'/'.join(gen.source_emotions)} training faces to use as sources")
    return train, rows, spec


def _manifest_counts(out: Path, gen: LoadedGenerator, seed: int) -> dict[str, int]:
    """Images already done per emotion; refuses to mix another generator or seed into OUT."""
    counts = {e: 0 for e in EMOTIONS}
    for line_no, row in enumerate(read_rows(out), start=1):
        # the weights' hash names the generator; rows written before it existed have only path and step
        same = (row.get("generator_sha256") == gen.digest if "generator_sha256" in row
                else row.get("generator") == gen.path and row.get("step") == gen.step)
        if not same or row.get("run_seed") != seed:
            raise DataError(
                f"{out / MANIFEST}, line {line_no}: made by generator {row.get('generator')} (step {row.get('step')}, "
                f"weights {row.get('generator_sha256', 'unknown')}, seed {row.get('run_seed')}), not {gen.path} "
                f"(step {gen.step}, weights {gen.digest}, seed {seed}); use another --out"
            )
        if row.get("emotion") not in counts:
            raise DataError(f"{out / MANIFEST}, line {line_no}: emotion {row.get('emotion')!r} is not one of "
                            f"{', '.join(EMOTIONS)}")
        counts[row["emotion"]] += 1
    return counts


@torch.no_grad()
def synthesize(
    generator: str | Path,
    emotions: Sequence[str],
    n: int,
    out: str | Path = "synthetic",
    sources: str | None = None,
    seed: int = 0,
    batch_size: int = 512,
    progress: bool = True,
) -> dict:
    """Write n faces per emotion (continuing a previous run into the same folder)."""
    if n < 1:
        raise DataError(f"--n must be at least 1, got {n}")
    gen = load_generator_file(generator)
    out = Path(out)
    check_writable(out)
    train, pool, spec = _source_pool(gen, sources)
    if gen.model.condition == "reference":
        raise DataError("synthesis from a reference-conditioned generator needs references; use fergan transfer")
    with writer_lock(out):
        swept = sweep_temp_files(out)
        torn = repair_torn_tail(out)
        if swept:
            log.warning("%s: removed %d temporary files of an interrupted run", out, swept)
        if torn:
            log.warning("%s: moved a torn last manifest line (%d bytes) to manifest.jsonl.torn", out, torn)
        done = _manifest_counts(out, gen, seed)
        try:
            written = _write_faces(out, gen, train, pool, spec, emotions, n, seed, done, batch_size, progress)
        except OSError as err:
            if not is_disk_full(err):
                raise DataError(f"cannot write into {out}: {err.strerror or err}") from None
            raise DataError(f"the disk holding {out} is full; every image the manifest lists is whole: free some "
                            "space and run the same command again to continue") from None
    return {"out": str(out), "written": written, "already_there": {e: done[e] for e in emotions}}


def _write_faces(out: Path, gen: LoadedGenerator, train: FaceDataset, pool: torch.Tensor, spec: str,
                 emotions: Sequence[str], n: int, seed: int, done: dict[str, int], batch_size: int,
                 progress: bool) -> dict[str, int]:
    """Each image atomically, then its chunk's rows in one append: a row never lists a missing image."""
    written = {}
    bar = tqdm(total=n * len(emotions), disable=not progress, desc="fergan synthesize", unit="face")
    for emotion in emotions:
        (out / emotion).mkdir(exist_ok=True)
        start = done[emotion]
        bar.update(min(start, n))
        for chunk_start in range(start, n, batch_size):
            indices = range(chunk_start, min(n, chunk_start + batch_size))
            seeds = [image_seed(seed, emotion, i) for i in indices]
            picks = torch.tensor([
                int(pool[torch.randint(len(pool), (1,), generator=torch.Generator().manual_seed(s))])
                for s in seeds
            ])
            target = torch.full((len(picks),), EMOTION_INDEX[emotion])
            edited = edit_faces(gen.model, to_model_input(train.images[picks]), target)
            rows = []
            for i, s, src, face in zip(indices, seeds, picks.tolist(), edited):
                name = f"{emotion}/{i:06d}.png"
                atomic_write_bytes(out / name, png_bytes(face))
                rows.append({"file": name, "emotion": emotion, "source": src, "source_spec": spec,
                             "seed": s, "run_seed": seed, "index": i, "generator": gen.path, "step": gen.step,
                             "generator_sha256": gen.digest})
            append_rows(out, rows)
            bar.update(len(rows))
        written[emotion] = max(0, n - start)
    bar.close()
    return written


@torch.no_grad()
def regenerate(manifest_row: dict, generator: LoadedGenerator) -> torch.Tensor:
    """Rebuild one synthetic face from its manifest row (uint8 [1, 48, 48])."""
    train = load_dataset(manifest_row["source_spec"]).split("train")
    face = to_model_input(train.images[manifest_row["source"] : manifest_row["source"] + 1])
    target = torch.tensor([EMOTION_INDEX[manifest_row["emotion"]]])
    return edit_faces(generator.model, face, target)[0]


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
