"""`fergan synthesize` (layer 2): a trained generator applied in bulk.

Synthesis writes ``OUT/<emotion>/<NNNNNN>.png`` and ``OUT/manifest.jsonl``. Image i of an
emotion is a pure function of (seed, emotion, i): its source face is drawn from a generator
seeded with that triple, so any image can be regenerated alone, and a re-run continues at
the first index the manifest lacks. The folder's commit protocol (one writer, whole rows, the
generator named by a hash of its weights) is ferganaug.data.synthetic_folder's.

With a filter classifier (``--filter``) candidate j, not image i, is the pure function of
(seed, emotion, j): a candidate is kept only when the filter gives the target emotion at least
its median probability for real training faces of that emotion. The k-th kept one becomes image
k, its row records its candidate j, and a re-run continues after the last j the manifest lists.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn
from tqdm import tqdm

from classifiers.checkpoint import load_classifier
from ferganaug.data.augment import to_model_input
from ferganaug.data.dataset import FaceDataset
from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.data.synthetic_folder import (
    MANIFEST, append_rows, is_disk_full, read_rows, repair_torn_tail, sweep_temp_files, writer_lock,
)
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.gan.artifact import GENERATOR_KIND, load_generator
from ferganaug.gan.expression import typical_real_confidence
from ferganaug.gan.images import png_bytes
from ferganaug.gan.networks import Generator
from ferganaug.engine.checkpoint import CheckpointError, load_checkpoint, weights_digest
from ferganaug.utils.files import atomic_write_bytes, check_writable
from ferganaug.utils.progress import progress_bar

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


def _in_fixed_batches(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
    """``fn`` over row-aligned ``inputs`` in batches of exactly EDIT_BATCH rows (zero-padded)."""
    out = []
    for start in range(0, len(inputs[0]), EDIT_BATCH):
        chunks = [x[start : start + EDIT_BATCH] for x in inputs]
        pad = EDIT_BATCH - len(chunks[0])
        if pad:
            chunks = [torch.cat([c, c.new_zeros(pad, *c.shape[1:])]) for c in chunks]
        out.append(fn(*chunks)[: EDIT_BATCH - pad])
    return torch.cat(out)


def edit_faces(model: Generator, faces: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The generator's edits of model-input ``faces`` to ``targets`` as uint8 [N, 1, H, W]."""
    edited = _in_fixed_batches(lambda x, t: model(x, t)[0], faces, targets)
    return ((edited.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


# A filtered run gives up on an emotion after this many candidates per face asked for.
MAX_CANDIDATES_PER_FACE = 20


@dataclass(frozen=True)
class SynthesisFilter:
    """A fer-classify classifier that keeps a synthetic face only when it is at least as sure of
    the target as it is of a typical real face of it: ``thresholds`` per emotion."""

    model: nn.Module
    path: str
    digest: str  # of its weights, recorded in every row so a re-run cannot switch filters
    thresholds: dict[str, float]

    def probabilities(self, faces: torch.Tensor, emotion: str) -> torch.Tensor:
        """The probability of ``emotion`` for each uint8 face [N, 1, H, W]; in fixed batches, so
        that a candidate scores the same in a fresh and in a continued run."""
        probs = _in_fixed_batches(lambda x: self.model(x).float().softmax(dim=1), to_model_input(faces))
        return probs[:, EMOTION_INDEX[emotion]]


def load_filter(path: str | Path, train: FaceDataset, emotions: Sequence[str]) -> SynthesisFilter:
    """The filter classifier at ``path``, its threshold for each of ``emotions`` being the median
    probability it gives the real faces of ``train`` of that emotion their own label (for an
    even count the lower of the middle two, as torch.median and the GAN's loss take it).

    ``train`` must be the training split of the source data, never test faces: the threshold
    decides what joins training data, and test faces stay unseen by every such choice."""
    try:
        model, artifact = load_classifier(path, expected_class_names=EMOTIONS)
    except CheckpointError as err:
        raise CheckpointError(f"--filter: {err}") from None
    missing = [e for e in emotions if not bool((train.labels == EMOTION_INDEX[e]).any())]
    if missing:
        raise DataError(f"--filter: no real {'/'.join(missing)} training faces in '{train.source}' to set the "
                        "filter's threshold by")
    rows = torch.isin(train.labels, torch.tensor([EMOTION_INDEX[e] for e in emotions]))
    medians = typical_real_confidence(model, train.images[rows], train.labels[rows], len(EMOTIONS),
                                      view=to_model_input)
    return SynthesisFilter(model, artifact["_path"], weights_digest(artifact["state_dict"]),
                           {e: float(medians[EMOTION_INDEX[e]]) for e in emotions})


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


@dataclass
class _Done:
    """What OUT holds already, per emotion: images, and the candidate to continue at."""

    images: dict[str, int]
    next_candidate: dict[str, int]


def _manifest_state(out: Path, gen: LoadedGenerator, seed: int, filt: SynthesisFilter | None) -> _Done:
    """Images already done per emotion and where to continue; refuses to mix another generator,
    seed or filter into OUT."""
    done = _Done(dict.fromkeys(EMOTIONS, 0), dict.fromkeys(EMOTIONS, 0))
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
        if row.get("emotion") not in done.images:
            raise DataError(f"{out / MANIFEST}, line {line_no}: emotion {row.get('emotion')!r} is not one of "
                            f"{', '.join(EMOTIONS)}")
        _check_same_filter(row, filt, f"{out / MANIFEST}, line {line_no}")
        emotion = row["emotion"]
        # rows written before filters existed name no candidate: there, image i was candidate i
        candidate = row.get("candidate", done.images[emotion])
        done.next_candidate[emotion] = max(done.next_candidate[emotion], candidate + 1)
        done.images[emotion] += 1
    return done


def _check_same_filter(row: dict, filt: SynthesisFilter | None, where: str) -> None:
    """A folder keeps the filter it was started with: another one would change which candidates pass."""
    if row.get("filter_sha256") == (filt.digest if filt else None):
        return
    made = f"with --filter {row.get('filter')} (weights {row['filter_sha256']})" if row.get("filter_sha256") \
        else "without --filter"
    asked = f"with --filter {filt.path} (weights {filt.digest})" if filt else "without one"
    raise DataError(f"{where}: made {made}, not {asked}; give the same --filter or use another --out")


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
    filter_classifier: str | Path | None = None,
) -> dict:
    """Write n faces per emotion (continuing a previous run into the same folder). With
    ``filter_classifier`` (see :func:`load_filter`) only the candidates that pass it, at most
    MAX_CANDIDATES_PER_FACE * n candidates per emotion; ``filter`` in the result gives each
    emotion's threshold and this run's acceptance rate."""
    if n < 1:
        raise DataError(f"--n must be at least 1, got {n}")
    gen = load_generator_file(generator)
    out = Path(out)
    check_writable(out)
    train, pool, spec = _source_pool(gen, sources)
    if gen.model.condition == "reference":
        raise DataError("synthesis from a reference-conditioned generator needs references; use fergan transfer")
    filt = load_filter(filter_classifier, train, emotions) if filter_classifier is not None else None
    job = _Job(out, gen, train, pool, spec, seed, filt)
    with writer_lock(out):
        _repair_interrupted_run(out)
        done = _manifest_state(out, gen, seed, filt)
        try:
            results = _write_faces(job, emotions, n, done, batch_size, progress)
        except OSError as err:
            if not is_disk_full(err):
                raise DataError(f"cannot write into {out}: {err.strerror or err}") from None
            raise DataError(f"the disk holding {out} is full; every image the manifest lists is whole: free some "
                            "space and run the same command again to continue") from None
    summary = {"out": str(out), "written": {e: r.written for e, r in results.items()},
               "already_there": {e: done.images[e] for e in emotions}}
    if filt is not None:
        summary["filter"] = _filter_summary(filt, results, done, n)
    return summary


def _repair_interrupted_run(out: Path) -> None:
    """Leave only whole faces and whole manifest lines behind an interrupted run."""
    swept = sweep_temp_files(out)
    torn = repair_torn_tail(out)
    if swept:
        log.warning("%s: removed %d temporary files of an interrupted run", out, swept)
    if torn:
        log.warning("%s: moved a torn last manifest line (%d bytes) to manifest.jsonl.torn", out, torn)


def _filter_summary(filt: SynthesisFilter, results: dict[str, _Written], done: _Done, n: int) -> dict:
    """Each emotion's threshold and this run's acceptance rate."""
    return {"path": filt.path, "sha256": filt.digest, "per_emotion": {
        e: {"threshold": filt.thresholds[e], "candidates": r.candidates, "accepted": r.written,
            "acceptance_rate": r.written / r.candidates if r.candidates else None,
            "complete": done.images[e] + r.written >= n}
        for e, r in results.items()}}


@dataclass(frozen=True)
class _Job:
    """What every candidate of a synthesis run is made from and where it goes."""

    out: Path
    gen: LoadedGenerator
    train: FaceDataset
    pool: torch.Tensor  # rows of ``train`` that may be sources
    spec: str
    seed: int
    filter: SynthesisFilter | None


@dataclass(frozen=True)
class _Written:
    written: int
    candidates: int  # made in this run, up to the last one kept once the emotion is complete


def _write_faces(job: _Job, emotions: Sequence[str], n: int, done: _Done, batch_size: int,
                 progress: bool) -> dict[str, _Written]:
    """Every emotion in turn, with a warning for one the filter's cap on candidates left short."""
    results = {}
    bar = progress_bar(total=n * len(emotions), enabled=progress, desc="fergan synthesize", unit="face")
    for emotion in emotions:
        (job.out / emotion).mkdir(exist_ok=True)
        bar.update(min(done.images[emotion], n))
        result = _write_emotion(job, emotion, n, done.images[emotion], done.next_candidate[emotion], batch_size, bar)
        total = done.images[emotion] + result.written
        if job.filter is not None and total < n:
            log.warning("%s: only %d of %d faces passed the filter (threshold %.3f) in the %d candidates allowed "
                        "(%d per face asked for); those %d are written", emotion, total, n,
                        job.filter.thresholds[emotion], n * MAX_CANDIDATES_PER_FACE, MAX_CANDIDATES_PER_FACE, total)
        results[emotion] = result
    bar.close()
    return results


def _write_emotion(job: _Job, emotion: str, n: int, have: int, start: int, batch_size: int, bar: tqdm) -> _Written:
    """Candidates from ``start`` on until ``n`` images of ``emotion`` exist (without a filter every
    candidate is kept) or the candidates run out. Each image atomically, then its chunk's rows in
    one append: a row never lists a missing image."""
    limit = n * MAX_CANDIDATES_PER_FACE if job.filter else n
    kept_so_far, j = have, start
    while kept_so_far < n and j < limit:
        # no more candidates than could be needed (a padded edit batch costs the same as fewer)
        indices = range(j, min(limit, j + batch_size, j + max(n - kept_so_far, EDIT_BATCH)))
        seeds, picks, edited = _candidates(job, emotion, indices)
        kept, probs = _kept(job.filter, edited, emotion, n - kept_so_far)
        rows = []
        for k in kept:
            rows.append(_commit(job, emotion, kept_so_far, indices[k], seeds[k], picks[k], edited[k],
                                None if probs is None else probs[k]))
            kept_so_far += 1
        append_rows(job.out, rows)
        bar.update(len(rows))
        j = indices[kept[-1]] + 1 if kept_so_far == n else indices.stop
    return _Written(kept_so_far - have, j - start)


def _candidates(job: _Job, emotion: str, indices: range) -> tuple[list[int], list[int], torch.Tensor]:
    """(per-image seeds, source rows, uint8 edits) of candidates ``indices`` of ``emotion``:
    candidate j is a pure function of (run seed, emotion, j)."""
    seeds = [image_seed(job.seed, emotion, j) for j in indices]
    picks = torch.tensor([
        int(job.pool[torch.randint(len(job.pool), (1,), generator=torch.Generator().manual_seed(s))]) for s in seeds
    ])
    target = torch.full((len(picks),), EMOTION_INDEX[emotion])
    return seeds, picks.tolist(), edit_faces(job.gen.model, to_model_input(job.train.images[picks]), target)


def _kept(filt: SynthesisFilter | None, edited: torch.Tensor, emotion: str,
          room: int) -> tuple[list[int], list[float] | None]:
    """Positions of the candidates to keep (the first ``room`` that pass; all without a filter)
    and the filter's probabilities."""
    if filt is None:
        return list(range(min(room, len(edited)))), None
    probs = filt.probabilities(edited, emotion).tolist()
    return [k for k, p in enumerate(probs) if p >= filt.thresholds[emotion]][:room], probs


def _commit(job: _Job, emotion: str, index: int, candidate: int, seed: int, source: int, face: torch.Tensor,
            probability: float | None) -> dict:
    """Write image ``index`` of ``emotion`` and return its manifest row."""
    name = f"{emotion}/{index:06d}.png"
    atomic_write_bytes(job.out / name, png_bytes(face))
    row = {"file": name, "emotion": emotion, "source": source, "source_spec": job.spec, "seed": seed,
           "run_seed": job.seed, "index": index, "candidate": candidate, "generator": job.gen.path,
           "step": job.gen.step, "generator_sha256": job.gen.digest}
    if job.filter is not None:
        row |= {"filter": job.filter.path, "filter_sha256": job.filter.digest, "filter_probability": probability,
                "filter_threshold": job.filter.thresholds[emotion]}
    return row


@torch.no_grad()
def regenerate(manifest_row: dict, generator: LoadedGenerator) -> torch.Tensor:
    """Rebuild one synthetic face from its manifest row (uint8 [1, 48, 48])."""
    train = load_dataset(manifest_row["source_spec"]).split("train")
    face = to_model_input(train.images[manifest_row["source"] : manifest_row["source"] + 1])
    target = torch.tensor([EMOTION_INDEX[manifest_row["emotion"]]])
    return edit_faces(generator.model, face, target)[0]
