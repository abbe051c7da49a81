"""The numbers of an evaluation, per target emotion (see the package docstring).

Small classes: KID needs at least 2 faces in each set (its subset size is the smaller set,
at most ``kid_subset_size``); FID needs more faces than feature dimensions in each set,
since below that the covariance is singular and the distance is mostly an artefact of the
sample size. A value that cannot be computed is None with a ``reason``, never NaN. Every set
is reported with its size: the floor uses a seeded subsample of real training faces of the
synthetic set's size, so that both distances carry the same small-sample bias.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from classifiers.checkpoint import load_classifier
from classifiers.inference import extract_features
from classifiers.metrics import classification_report
from ferganaug.data.augment import to_model_input
from ferganaug.data.dataset import FaceDataset
from ferganaug.data.errors import DataError
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.evaluate.inputs import SyntheticFolder
from ferganaug.measure.distances import frechet_distance, kernel_inception_distance
from ferganaug.measure.two_sample import two_sample_accuracy
from ferganaug.utils.progress import progress_bar

log = logging.getLogger(__name__)

DEFAULT_N_PER_EMOTION = 2000
KID_SUBSETS = 10
KID_SUBSET_SIZE = 1000
SAMPLE_FACES = 6  # sources (or synthetic faces per emotion) on the sheet


@dataclass(frozen=True)
class SampleGrid:
    """Faces for the sheet: uint8 [rows, cols, H, W] with a label per row and column. For a
    generator on built-in data, ``truths`` holds the true render of every edit after the
    first column (uint8 [rows, cols - 1, H, W]: the changes sheet compares the two changes)."""

    images: torch.Tensor
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    truths: torch.Tensor | None = None


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


@torch.no_grad()
def edit_faces(
    generator: torch.nn.Module, faces_uint8: torch.Tensor, emotion: str, batch_size: int = 512,
    references_uint8: torch.Tensor | None = None, return_mask_area: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The generator's edit of every face to ``emotion`` (uint8 [N, 1, 48, 48]). A
    reference-conditioned generator takes ``references_uint8`` (one face per source) instead
    of the label. With ``return_mask_area`` also each edit's mean attention mask [N] in [0, 1]."""
    out, areas = [], []
    for start in range(0, len(faces_uint8), batch_size):
        x = to_model_input(faces_uint8[start : start + batch_size])
        if references_uint8 is not None:
            cond = to_model_input(references_uint8[start : start + batch_size])
        else:
            cond = torch.full((len(x),), EMOTION_INDEX[emotion])
        edited, mask = generator(x, cond)
        out.append(_to_uint8(edited))
        areas.append(mask.float().flatten(1).mean(1))
    edited = torch.cat(out) if out else faces_uint8[:0].clone()
    if return_mask_area:
        return edited, torch.cat(areas) if areas else torch.zeros(0)
    return edited


def hit_rate(evaluator: torch.nn.Module, faces: torch.Tensor, emotion: str) -> float:
    """Share of faces the evaluator assigns to ``emotion``."""
    _, logits = extract_features(evaluator, faces, with_logits=True)
    return float((logits.argmax(1) == EMOTION_INDEX[emotion]).double().mean())


def _pick(n: int, k: int, seed: int) -> torch.Tensor:
    """k of range(n) at random (seeded), in increasing order; all of them when k >= n."""
    if k >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k].sort().values


def set_distances(
    synthetic: torch.Tensor, real_test: torch.Tensor, real_train: torch.Tensor, seed: int = 0,
    kid_subsets: int = KID_SUBSETS, kid_subset_size: int = KID_SUBSET_SIZE,
) -> dict:
    """KID and FID of ``synthetic`` vs ``real_test`` features, each with its floor (``real_train``
    vs ``real_test``), and the size of every set (``n_sets``). Values that the set sizes do not
    allow are None with a short ``reason`` (the sizes are in ``n_sets``)."""
    dim = synthetic.shape[1] if synthetic.dim() == 2 else 0
    sizes = {"synthetic": len(synthetic), "real_test": len(real_test), "real_train_floor": len(real_train)}

    def kid(a, b):
        if min(len(a), len(b)) < 2:
            return None, None, None, "fewer than 2 faces in a set"
        size = min(kid_subset_size, len(a), len(b))
        mean, std = kernel_inception_distance(a, b, subsets=kid_subsets, subset_size=size, seed=seed)
        return mean, std, size, None

    def fid(a, b):
        if min(len(a), len(b)) <= dim:
            return None, f"a set has no more faces than the {dim} feature dimensions"
        try:
            return frechet_distance(a, b), None
        except (FloatingPointError, ValueError) as err:
            return None, f"FID failed: {err}"

    k_value, k_std, k_size, k_reason = kid(synthetic, real_test)
    k_floor, k_floor_std, k_floor_size, k_floor_reason = kid(real_train, real_test)
    f_value, f_reason = fid(synthetic, real_test)
    f_floor, f_floor_reason = fid(real_train, real_test)
    return {
        "kid": {"value": k_value, "std": k_std, "subset_size": k_size, "reason": k_reason,
                "floor": k_floor, "floor_std": k_floor_std, "floor_subset_size": k_floor_size,
                "floor_reason": k_floor_reason},
        "fid": {"value": f_value, "reason": f_reason, "floor": f_floor, "floor_reason": f_floor_reason},
        "n_sets": sizes,
    }


class _Reference:
    """The evaluator and what it makes of the real data: test-split features, logits and
    report; training faces' features on demand (a seeded subsample per emotion); with
    ``two_sample`` the two-sample test of every set of synthetic faces."""

    def __init__(self, data: FaceDataset, evaluator_checkpoint: str | Path, n_per_emotion: int, seed: int,
                 two_sample: bool = True) -> None:
        if not data.has_split("test"):
            raise DataError(f"dataset '{data.source}' has no test split; fergan evaluate compares with real test faces")
        self.model, self.artifact = load_classifier(evaluator_checkpoint, expected_class_names=EMOTIONS)
        self.checkpoint = str(evaluator_checkpoint)
        self.test = data.split("test")
        self.train = data.split("train")
        self.test_features, logits = extract_features(self.model, self.test.images, with_logits=True)
        self.report = classification_report(self.test.labels, logits, EMOTIONS)
        self.n_per_emotion = n_per_emotion
        self.seed = seed
        self.two_sample = two_sample

    @property
    def dim(self) -> int:
        return int(self.test_features.shape[1])

    def describe(self) -> dict:
        info = self.artifact.get("info", {})
        return {"checkpoint": self.checkpoint, "model": self.artifact["model_name"],
                "real_test_accuracy": self.report["accuracy"], "feature_dim": self.dim,
                "epochs_trained": info.get("epochs_trained")}

    def measure(self, emotion: str, faces: torch.Tensor, sources: FaceDataset | None = None,
                mask_area: torch.Tensor | None = None) -> dict:
        """One row of the report: ``faces`` are the synthetic faces of ``emotion``, ``sources``
        (row for row) the faces they were made from."""
        k = EMOTION_INDEX[emotion]
        feats, logits = extract_features(self.model, faces, with_logits=True)
        test_rows = (self.test.labels == k).nonzero().flatten()
        test_rows = test_rows[_pick(len(test_rows), self.n_per_emotion, self.seed + 7919 * k)]
        train_rows = (self.train.labels == k).nonzero().flatten()
        train_rows = train_rows[_pick(len(train_rows), len(faces), self.seed + 7919 * k + 1)]
        train_feats = extract_features(self.model, self.train.images[train_rows])
        real = self.report["per_class"][emotion]
        predicted = logits.argmax(1)
        row = {
            "n": len(faces),
            "hit_rate": float((predicted == k).double().mean()) if len(faces) else None,
            # the row of the confusion matrix: what the evaluator reads these faces as
            "read_as": {name: float((predicted == c).double().mean()) for c, name in enumerate(EMOTIONS)}
            if len(faces) else {},
            "evaluator_recall_on_real": real["recall"] if real["support"] else None,
            "real_support": real["support"],
            **set_distances(feats, self.test_features[test_rows], train_feats, self.seed),
            "pixel_change": None,
        }
        if sources is not None:
            row["pixel_change"] = float((faces.float() - sources.images.float()).abs().mean())
            truth = _builtin_counterparts(sources, emotion)
            if truth is not None:
                row |= compare_with_truth(faces, sources.images, truth)
                # What a perfect generator would score: the ceiling a faithful edit can reach
                # with this evaluator (it misreads some true renders too).
                row["truth_hit_rate"] = hit_rate(self.model, truth, emotion)
        if mask_area is not None:
            row["mask_area"] = float(mask_area.mean())
        if self.two_sample:
            row["two_sample"] = self.two_sample_test(emotion, faces)
        return row

    def two_sample_test(self, emotion: str, faces: torch.Tensor) -> dict:
        """How well a small CNN tells ``faces`` from real faces of ``emotion`` (50%: not at all)."""
        k = EMOTION_INDEX[emotion]
        # Real TRAINING faces of the target, never test faces, whichever split the edits' sources
        # come from: the question is whether a recogniser learning from real training faces could
        # tell the synthetic ones apart, and test faces stay out of everything but the final
        # scores. (With --sources-split train both sides show the same people; with test, the
        # synthetic side shows test people, disjoint from training ones on the built-in faces.)
        real = self.train.images[self.train.labels == k]
        if min(len(real), len(faces)) < 2:
            return {"accuracy": None, "low": None, "high": None, "n_held_out": 0, "n_per_side": 0,
                    "reason": "fewer than 2 faces in a set"}
        return two_sample_accuracy(real, faces, seed=self.seed + 7919 * k + 2).to_dict() | {"reason": None}


def compare_with_truth(faces: torch.Tensor, sources: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """How edits (uint8 [N, 1, H, W]) compare with the true renders of the same edits.

    ``mae_vs_truth`` against ``mae_source_vs_truth`` (returning the source unchanged) is the
    headline. Two more numbers say why an edit misses: ``mae_vs_truth_off_change``, the part of
    ``mae_vs_truth`` on pixels the true change leaves alone (so it is at most the whole), and
    ``change_cosine``, the mean cosine between each edit's change of its source and the true
    change (1: the right change up to its strength; 0 for an edit that changes nothing)."""
    faces, sources, truth = faces.float(), sources.float(), truth.float()
    error = (faces - truth).abs()
    untouched = truth == sources
    edit_change, true_change = (faces - sources).flatten(1), (truth - sources).flatten(1)
    return {
        "mae_vs_truth": float(error.mean()),
        "mae_source_vs_truth": float((sources - truth).abs().mean()),
        "mae_vs_truth_off_change": float((error * untouched).mean()),
        "change_cosine": float(torch.nn.functional.cosine_similarity(edit_change, true_change, dim=1).mean()),
    }


def _builtin_counterparts(sources: FaceDataset, emotion: str) -> torch.Tensor | None:
    """True renders of the same faces with ``emotion``, for built-in data only."""
    if "nuisance_seeds" not in sources.info:
        return None
    from ferganaug.data.builtin import render_counterparts

    return render_counterparts(sources, emotion)


def _summary(per_emotion: dict, reference: _Reference, n_per_emotion: int, seed: int) -> dict:
    rows = list(per_emotion.values())

    def mean(key, inner=None):
        values = [r[key][inner] if inner else r.get(key) for r in rows]
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    kids = [(r["kid"]["value"], r["kid"]["floor"]) for r in rows
            if r["kid"]["value"] is not None and r["kid"]["floor"] is not None]
    two_sample = [r["two_sample"]["accuracy"] for r in rows
                  if "two_sample" in r and r["two_sample"]["accuracy"] is not None]
    summary = {
        "mean_hit_rate": mean("hit_rate"),
        "mean_evaluator_recall_on_real": mean("evaluator_recall_on_real"),
        "mean_pixel_change": mean("pixel_change"),
        # over the emotions where both exist, so that the two means are comparable
        "mean_kid": sum(k for k, _ in kids) / len(kids) if kids else None,
        "mean_kid_floor": sum(f for _, f in kids) / len(kids) if kids else None,
        "n_emotions_with_kid": len(kids),
        "mean_two_sample_accuracy": sum(two_sample) / len(two_sample) if two_sample else None,
        "n_emotions_with_two_sample": len(two_sample),
        "n_per_emotion": n_per_emotion,
        "seed": seed,
        "feature_space": f"penultimate features of the evaluator ({reference.dim}-d)",
        "kid": {"subsets": KID_SUBSETS, "max_subset_size": KID_SUBSET_SIZE, "kernel": "(x.y / d + 1)^3"},
        "evaluator": reference.describe(),
    }
    if any("mask_area" in r for r in rows):
        summary["mean_mask_area"] = mean("mask_area")
    if rows and all("mae_vs_truth" in r for r in rows):
        mae, baseline = mean("mae_vs_truth"), mean("mae_source_vs_truth")
        summary |= {"mae_vs_truth": mae, "mae_source_vs_truth": baseline,
                    "mae_reduction": 1 - mae / baseline if baseline else None,
                    "mae_vs_truth_off_change": mean("mae_vs_truth_off_change"),
                    "mean_change_cosine": mean("change_cosine"),
                    "mean_truth_hit_rate": mean("truth_hit_rate")}
    return summary


def _references(train: FaceDataset, emotion: str, n: int, seed: int) -> torch.Tensor:
    """``n`` real training faces of ``emotion`` (seeded, cycled) for a reference-conditioned generator."""
    rows = (train.labels == EMOTION_INDEX[emotion]).nonzero().flatten()
    if len(rows) == 0:
        raise DataError(f"no {emotion} training faces to use as references for the reference-conditioned generator")
    picks = torch.randint(len(rows), (n,), generator=torch.Generator().manual_seed(seed + EMOTION_INDEX[emotion]))
    return train.images[rows[picks]]


def measure_generator(
    generator: torch.nn.Module,
    source_emotions: tuple[str, ...],
    data: FaceDataset,
    evaluator_checkpoint: str | Path,
    sources_split: str = "test",
    n_per_emotion: int = DEFAULT_N_PER_EMOTION,
    seed: int = 0,
    progress: bool = False,
    two_sample: bool = True,
) -> tuple[dict, SampleGrid]:
    """:func:`evaluate_generator`'s report and the sample grid for the sheet."""
    reference = _Reference(data, evaluator_checkpoint, n_per_emotion, seed, two_sample)
    split = data.split(sources_split)
    wanted = torch.tensor([EMOTION_INDEX[e] for e in source_emotions])
    rows = torch.isin(split.labels, wanted).nonzero().flatten()
    if len(rows) == 0:
        raise DataError(f"no {'/'.join(source_emotions)} faces in the {sources_split} split of "
                        f"'{data.source}' to edit")
    sources = split.subset(rows[_pick(len(rows), n_per_emotion, seed)])
    per_emotion, shown, truths = {}, [sources.images[:SAMPLE_FACES, 0]], []
    shown_sources = sources.subset(torch.arange(min(SAMPLE_FACES, len(sources))))
    targets = [e for e in EMOTIONS if e not in source_emotions]
    by_reference = getattr(generator, "condition", "label") == "reference"
    for emotion in progress_bar(targets, enabled=progress, desc="fergan evaluate", unit="emotion"):
        refs = _references(reference.train, emotion, len(sources), seed) if by_reference else None
        edited, area = edit_faces(generator, sources.images, emotion, references_uint8=refs, return_mask_area=True)
        per_emotion[emotion] = reference.measure(emotion, edited, sources, area)
        shown.append(edited[:SAMPLE_FACES, 0])
        truth = _builtin_counterparts(shown_sources, emotion)
        if truth is not None:
            truths.append(truth[:, 0])
    summary = _summary(per_emotion, reference, n_per_emotion, seed)
    summary |= {"n_sources": len(sources), "sources_split": sources_split,
                "source_emotions": list(source_emotions)}
    row_labels = tuple(f"{i + 1}: {EMOTIONS[int(k)]}" for i, k in enumerate(shown_sources.labels))
    grid = SampleGrid(torch.stack(shown, dim=1), row_labels,
                      ("source", *targets), torch.stack(truths, dim=1) if truths else None)
    return {"kind": "generator", "per_emotion": per_emotion, "summary": summary}, grid


def evaluate_generator(
    generator: torch.nn.Module,
    source_emotions: tuple[str, ...],
    data: FaceDataset,
    evaluator_checkpoint: str | Path,
    sources_split: str = "test",
    n_per_emotion: int = DEFAULT_N_PER_EMOTION,
    seed: int = 0,
    progress: bool = False,
    two_sample: bool = True,
) -> dict:
    """Per target emotion (every emotion but the sources'): edit up to ``n_per_emotion``
    ``sources_split`` source faces (a seeded subsample, the same for every target) and report
    hit rate, the evaluator's recall on real test faces, KID/FID with their floors, pixel
    change, mask area, (built-in data) the error against the ground-truth render and, with
    ``two_sample``, the two-sample test against real training faces of the target."""
    return measure_generator(generator, source_emotions, data, evaluator_checkpoint, sources_split, n_per_emotion,
                             seed, progress, two_sample)[0]


def measure_synthetic(
    folder: SyntheticFolder, data: FaceDataset, evaluator_checkpoint: str | Path,
    n_per_emotion: int = DEFAULT_N_PER_EMOTION, seed: int = 0, progress: bool = False, two_sample: bool = True,
) -> tuple[dict, SampleGrid]:
    """:func:`evaluate_synthetic`'s report and the sample grid for the sheet."""
    reference = _Reference(data, evaluator_checkpoint, n_per_emotion, seed, two_sample)
    faces = folder.faces
    present = [e for e in EMOTIONS if bool((faces.labels == EMOTION_INDEX[e]).any())]
    per_emotion, columns = {}, []
    for emotion in progress_bar(present, enabled=progress, desc="fergan evaluate", unit="emotion"):
        rows = (faces.labels == EMOTION_INDEX[emotion]).nonzero().flatten()
        rows = rows[_pick(len(rows), n_per_emotion, seed + EMOTION_INDEX[emotion])]
        sources = folder.sources.subset(rows) if folder.sources is not None else None
        per_emotion[emotion] = reference.measure(emotion, faces.images[rows], sources)
        shown = faces.images[rows[:SAMPLE_FACES], 0]
        if sources is not None:  # source above its edit
            shown = torch.stack([sources.images[:SAMPLE_FACES, 0], shown], dim=1).flatten(0, 1)
        columns.append(shown)
    summary = _summary(per_emotion, reference, n_per_emotion, seed)
    summary |= {"n_synthetic": len(faces), "sources": "manifest" if folder.sources is not None else None}
    if folder.note:
        summary["note"] = folder.note
    height = max(len(c) for c in columns)
    blank = torch.full(faces.images.shape[-2:], 255, dtype=torch.uint8)
    images = torch.stack([torch.stack([c[i] if i < len(c) else blank for c in columns]) for i in range(height)])
    labels = (tuple(f"{'source' if i % 2 == 0 else 'synthetic'} {i // 2 + 1}" for i in range(height))
              if folder.sources is not None else tuple(f"synthetic {i + 1}" for i in range(height)))
    report = {"kind": "synthetic", "per_emotion": per_emotion, "summary": summary}
    return report, SampleGrid(images, labels, tuple(present))


def evaluate_synthetic(
    folder: SyntheticFolder, data: FaceDataset, evaluator_checkpoint: str | Path,
    n_per_emotion: int = DEFAULT_N_PER_EMOTION, seed: int = 0, progress: bool = False, two_sample: bool = True,
) -> dict:
    """Per emotion in a synthetic folder (see :func:`~ferganaug.evaluate.inputs.read_synthetic_folder`):
    up to ``n_per_emotion`` of its faces (seeded) measured like :func:`evaluate_generator`'s
    edits, against the source faces the manifest names (no mask area: the folder has none)."""
    return measure_synthetic(folder, data, evaluator_checkpoint, n_per_emotion, seed, progress, two_sample)[0]
