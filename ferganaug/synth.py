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
import tempfile
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
from ferganaug.utils.files import atomic_write_bytes

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


def check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise DataError(f"cannot write to the output folder {folder}: {err.strerror or err}") from None


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
) -> list[Path]:
    """Apply the generator to a user's own face images: one target emotion (a PNG per input),
    or with emotion=None a grid of the input beside every emotion."""
    gen = load_generator_file(generator)
    out = Path(out)
    check_writable(out)
    if gen.model.condition == "reference" and reference is None:
        raise DataError(f"{gen.path} is conditioned on reference faces; give --reference IMAGE")
    faces = torch.stack([load_face_image(p) for p in images])
    x = to_model_input(faces)
    targets = [emotion] if emotion else list(EMOTIONS)
    outputs = []
    for name in targets:
        if gen.model.condition == "reference":
            cond = to_model_input(load_face_image(reference)).unsqueeze(0).expand(len(x), -1, -1, -1)
        else:
            cond = torch.full((len(x),), EMOTION_INDEX[name])
        edited, _ = gen.model(x, cond)
        outputs.append(((edited.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    targets = _transfer_targets(images, out, emotion)
    for i, (path, target) in enumerate(zip(images, targets)):
        if emotion:
            save_face_png(outputs[0][i], target)
        else:
            row = torch.stack([faces[i, 0]] + [o[i, 0] for o in outputs]).unsqueeze(0)
            save_labelled_grid(row, target, row_labels=[Path(path).name], col_labels=["input", *EMOTIONS], scale=3)
    return targets


def _transfer_targets(images: Sequence[Path], out: Path, emotion: str | None) -> list[Path]:
    """One output name per input (``me_happy.png``; inputs that share a stem get ``-2``, ``-3``),
    checked before anything is written: an existing file is never replaced."""
    suffix = emotion or "all-emotions"
    targets, taken = [], set()
    for path in images:
        stem, k = Path(path).stem, 1
        while (name := f"{stem}{'' if k == 1 else f'-{k}'}_{suffix}.png") in taken:
            k += 1
        taken.add(name)
        targets.append(out / name)
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise DataError(f"{existing[0]} already exists{f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''}; "
                        "fergan transfer never replaces a file: give another --out or move it away")
    return targets
