"""What `fer-classify train`, `evaluate` and `--resume` do, as library calls the CLI wraps."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import torch

from classifiers.boundary import DECISION_BIAS, apply_decision_bias, decision_bias
from classifiers.checkpoint import load_classifier, save_model
from classifiers.inference import fold_batchnorm, measure_latency, predict_logits
from classifiers.metrics import classification_report
from classifiers.plots import plot_confusion, plot_curves
from classifiers.train import SYNTHETIC_COLUMN, TrainData, Trainer, split_train_val, synthetic_rows
from classifiers.train_config import TrainConfig
from ferganaug.data.audit import leak_free_mask
from ferganaug.data.dataset import SPLIT_INDEX, FaceDataset, concat
from ferganaug.data.errors import DataError
from ferganaug.data.folders import UNSPLIT
from ferganaug.data.spec import load_dataset, spec_short_name
from ferganaug.data.synthetic import limit_per_class
from ferganaug.engine import RunFolder, restore_on_every_rank
from ferganaug.engine.distributed import barrier, create_run_folder, join_from_environment
from ferganaug.engine.config import config_from_dict, config_to_dict
from ferganaug.utils.files import atomic_write_json
from ferganaug.utils.hardware import cpu_info, resolve_device
from ferganaug.utils.precision import NumericPath, pick_fastest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataOptions:
    """Where the data comes from; stored in config.json so --resume rebuilds the same data."""

    spec: str = "builtin"
    augment_with: str | None = None
    augment_cap: int | None = None  # at most this many synthetic faces per emotion
    augment_ratio: float | None = None  # at most ratio x the real training count per emotion
    skip_bad: bool = False
    cache_dir: str | None = None
    augment_emotions: tuple[str, ...] | None = None  # only these emotions' synthetic faces; None = all
    augment_per_class: tuple[int | None, ...] | None = None  # at most this many per class (class order)
    augment_weight: float = 1.0  # factor on each synthetic face's loss term; real faces weigh 1

    def __post_init__(self) -> None:
        # config.json stores vars(options); JSON hands tuples back as lists, so --resume needs this.
        for name in ("augment_emotions", "augment_per_class"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if not 0 <= self.augment_weight < math.inf:  # also refuses nan
            raise ValueError(f"augment_weight must be a finite number >= 0, got {self.augment_weight}")
        if self.augment_weight != 1.0 and not self.augment_with:
            raise ValueError("augment_weight weighs synthetic faces, but no synthetic folder (augment_with) is given")


def _left_out(options: DataOptions, c: int, name: str) -> bool:
    """True when the options ask for no synthetic faces of this class at all."""
    if options.augment_emotions is not None and name not in options.augment_emotions:
        return True
    return options.augment_per_class is not None and options.augment_per_class[c] == 0


def _synthetic_limits(train: FaceDataset, options: DataOptions) -> list[int | None]:
    """Per-class limit on synthetic faces: the smallest of cap, ratio x real count and the
    per-class amount; 0 for emotions not chosen; None where nothing limits."""
    names = train.class_names
    real_counts = train.class_counts()
    per_class = options.augment_per_class
    if per_class is not None and len(per_class) != len(names):
        raise DataError(f"augment_per_class has {len(per_class)} entries; expected one per class ({', '.join(names)})")
    unknown = sorted(set(options.augment_emotions or ()) - set(names))
    if unknown:
        raise DataError(f"augment_emotions {unknown} are not classes of the data ({', '.join(names)})")
    if per_class is not None and any(v is not None and int(v) < 0 for v in per_class):
        raise DataError(f"augment_per_class must be >= 0 (or None), got {list(per_class)}")
    limits: list[int | None] = []
    for c, name in enumerate(names):
        if _left_out(options, c, name):
            limits.append(0)
            continue
        candidates = [options.augment_cap, None if per_class is None else per_class[c]]
        if options.augment_ratio is not None:
            candidates.append(int(options.augment_ratio * real_counts[c]))
        known = [int(v) for v in candidates if v is not None]
        limits.append(min(known) if known else None)
    return limits


def add_synthetic(train: FaceDataset, synthetic: FaceDataset, options: DataOptions, seed: int) -> tuple[FaceDataset, dict]:
    """Append synthetic faces to the training split only, limited per emotion by the cap, by
    ratio x that emotion's real training count and by the per-class amounts; emotions left
    out of ``augment_emotions`` get none. The result marks its synthetic rows in
    ``info["synthetic"]`` (bool per row), so the trainer can weigh or sample them apart."""
    if len(synthetic) == 0:
        raise DataError(f"{options.augment_with}: the synthetic folder holds no images")
    real_counts = train.class_counts()
    limits = _synthetic_limits(train, options)
    for c, name in enumerate(train.class_names):
        if real_counts[c] == 0 and not _left_out(options, c, name) and bool((synthetic.labels == c).any()):
            raise DataError(
                f"{options.augment_with}: has synthetic '{name}' faces but the training data has no '{name}' "
                "faces to balance against"
            )
    extra = limit_per_class(synthetic, limits, seed + 104729)
    extra = FaceDataset(
        images=extra.images, labels=extra.labels,
        splits=torch.full((len(extra),), SPLIT_INDEX["train"], dtype=torch.int8),
        class_names=train.class_names, source=extra.source,
    )
    added = {name: n for name, n in zip(train.class_names, extra.class_counts()) if n}
    merged = concat([train, extra], source=f"{train.source}+{synthetic.source}")
    is_synthetic = torch.cat([synthetic_rows(train), torch.ones(len(extra), dtype=torch.bool)])
    return replace(merged, info={**merged.info, SYNTHETIC_COLUMN: is_synthetic}), added


def prepare_data(options: DataOptions, seed: int) -> tuple[FaceDataset, TrainData, dict]:
    """Load the dataset, split train/val, and add synthetic faces to train only."""
    data = load_dataset(options.spec, cache_dir=options.cache_dir, skip_bad=options.skip_bad)
    splits = split_train_val(data, seed)
    facts = {"spec": options.spec, "skipped_rows": data.info.get("skipped", 0)}
    if options.augment_with:
        synthetic = load_dataset(options.augment_with, cache_dir=options.cache_dir, cache=False)
        if synthetic.images.shape[2:] != data.images.shape[2:]:
            raise DataError(
                f"{options.augment_with}: images are {tuple(synthetic.images.shape[2:])}, "
                f"the training data's are {tuple(data.images.shape[2:])}"
            )
        train, added = add_synthetic(splits.train, synthetic, options, seed)
        splits = TrainData(train, splits.val, splits.val_source, synthetic_weight=options.augment_weight)
        facts["synthetic_added"] = added
    return data, splits, facts


TOOL = "fer-classify train"


def run_training(
    config: TrainConfig,
    options: DataOptions,
    runs_root: str | Path = "runs/fer-classify",
    progress: bool = True,
    run_dir: Path | None = None,
    with_predictions: bool = False,
    argv: Sequence[str] | None = None,
) -> tuple[Path, dict]:
    """Train, then evaluate on the test split; returns the run dir and the test report
    (with ``with_predictions``, also its per-item ``items``: see :func:`evaluate_model`).
    ``argv``: the command line that asked for the run, recorded in config.json."""
    data, splits, facts = prepare_data(options, config.seed)
    group = join_from_environment(resolve_device(config.device))  # under torchrun: one folder per job
    if run_dir is None:
        folder = create_run_folder(runs_root, f"{config.model}-{spec_short_name(options.spec)}", group)
    else:
        folder = RunFolder.at(run_dir)
    try:
        trainer = Trainer(config, splits, folder, progress=progress)
        if group.is_main:
            folder.write_config(TOOL, {
                "train": config.to_dict(),
                "data": config_to_dict(options) | facts,
                "run": trainer.describe(),
            }, argv)
    except BaseException:
        if run_dir is None and group.is_main:  # a folder this call made, and the run never started
            folder.discard_unstarted()
        raise
    return _fit_and_finish(trainer, data, folder, with_predictions)


def resume_training(run_dir: str | Path, progress: bool = True, with_predictions: bool = False) -> tuple[Path, dict]:
    """Continue an interrupted run from checkpoints/last.pt with the same config and data."""
    folder = RunFolder.existing(run_dir, TOOL)
    saved = folder.read_config()
    where = str(folder.config_path)
    config = TrainConfig.from_dict(saved["train"], f"{where} [train]")
    data_facts = ("skipped_rows", "synthetic_added")  # written beside the options, not options
    options = config_from_dict(DataOptions, {k: v for k, v in saved["data"].items() if k not in data_facts},
                               f"{where} [data]")
    data, splits, _ = prepare_data(options, config.seed)
    trainer = Trainer(config, splits, folder, progress=progress)
    restore_on_every_rank(folder, trainer, trainer.group, expected="a fer-classify train checkpoint")
    return _fit_and_finish(trainer, data, folder, with_predictions)


def _fit_and_finish(trainer: Trainer, data: FaceDataset, folder: RunFolder, with_predictions: bool = False) -> tuple[Path, dict]:
    run_dir, main = folder.path, trainer.group.is_main  # rank 0 alone writes
    best_val = trainer.fit()
    if main:
        save_model(run_dir / "model.pt", trainer.artifact({"best_val": best_val, "epochs_trained": trainer.epoch}))
        plot_curves(folder.read_stats(), run_dir / "curves.png")
    report = {}
    if data.has_split("test"):
        report = evaluate_with_tta(trainer, data, with_predictions)
        if main:
            atomic_write_json(run_dir / "test_metrics.json", {k: v for k, v in report.items() if k != "items"})
            plot_confusion(report["confusion"], report["class_names"], run_dir / "confusion.png",
                           title=f"{trainer.config.model} on {data.source} test")
    barrier(trainer.group)
    return run_dir, report


def evaluate_with_tta(trainer: Trainer, data: FaceDataset, with_predictions: bool = False) -> dict:
    """The test report with the config's test-time augmentation; with one, the plain figures
    and both evaluations' seconds go beside it under ``without_tta``, so its gain and its cost
    are read from one report."""
    tta = trainer.config.test_tta

    def timed(mode: str) -> tuple[dict, float]:
        start = time.perf_counter()
        report = evaluate_model(trainer.model, data, "test", trainer.path, trainer.device, tta=mode,
                                with_predictions=with_predictions)
        return report, time.perf_counter() - start

    report, seconds = timed(tta)
    if tta != "none":
        plain, plain_seconds = timed("none")
        report["seconds"] = seconds
        report["without_tta"] = {
            "accuracy": plain["accuracy"], "macro_f1": plain["macro_f1"], "seconds": plain_seconds,
            "leak_free_accuracy": plain.get("leak_free", {}).get("accuracy"),
        }
    return report


ALL_ROWS = "all"  # the split name evaluate reports for a dataset whose source names no splits


def split_to_evaluate(data: FaceDataset, requested: str) -> str:
    """``requested``, or ALL_ROWS for a dataset whose source names no splits (a flat
    ``<emotion>/`` folder): its rows sit in 'train' by the readers' convention only, so the
    whole set is the evaluation set, whichever split was asked for."""
    if not data.info.get(UNSPLIT, False):
        return requested
    log.info("%s has no split folders: evaluating all %d faces instead of the '%s' split",
             data.source, len(data), requested)
    return ALL_ROWS


def evaluate_model(model: torch.nn.Module, data: FaceDataset, split: str, path: NumericPath, device: torch.device,
                   tta: str = "none", batch_size: int = 128, with_predictions: bool = False,
                   bias: torch.Tensor | None = None) -> dict:
    """Report on one split (or ALL_ROWS, the whole dataset), plus the leak-free view (test
    copies of train images dropped) for a held-out split; ``bias`` is a shifted checkpoint's
    per-class decision bias (:mod:`classifiers.boundary`).

    ``with_predictions`` adds ``items``: per-item ``targets``, argmax ``predictions`` and the
    ``leak_free`` mask (None without a train split), for bootstrap intervals over the items."""
    ds = data if split == ALL_ROWS else data.split(split)
    if len(ds) == 0:
        raise DataError(f"dataset '{data.source}' has no '{split}' split")
    logits = apply_decision_bias(predict_logits(model, ds.images, path, device, batch_size, tta), bias)
    loss = float(torch.nn.functional.cross_entropy(logits, ds.labels))
    report = classification_report(ds.labels, logits, ds.class_names, loss=loss)
    report["split"] = split
    report["tta"] = tta
    keep = None
    if split not in ("train", ALL_ROWS) and data.has_split("train"):
        keep = leak_free_mask(data, split)
        clean = classification_report(ds.labels[keep], logits[keep], ds.class_names)
        report["leak_free"] = {
            "accuracy": clean["accuracy"], "macro_f1": clean["macro_f1"], "n": clean["n"],
            "dropped": int((~keep).sum()),
            "per_class_recall": {k: v["recall"] for k, v in clean["per_class"].items()},
        }
    if with_predictions:
        report["items"] = {
            "targets": ds.labels.tolist(),
            "predictions": logits.argmax(dim=1).tolist(),
            "leak_free": None if keep is None else keep.tolist(),
        }
    return report


def evaluate_checkpoint(
    checkpoint: str | Path,
    spec: str,
    split: str = "test",
    tta: str = "none",
    precision: str = "auto",
    device: str = "auto",
    batch_size: int = 128,
    latency: bool = True,
    cache_dir: str | None = None,
) -> dict:
    """`fer-classify evaluate`: load a model and report on a split of a dataset (every row of
    one that names no splits; ``report["split"]`` says which)."""
    data = load_dataset(spec, cache_dir=cache_dir)
    model, artifact = load_classifier(checkpoint, expected_class_names=data.class_names)
    dev = resolve_device(device)
    model = fold_batchnorm(model).to(dev)

    def throughput(path) -> float:
        candidate = path.prepare_model(model)
        return measure_latency(candidate, path, dev, batch_size, seconds=0.5)["batched"]["faces_per_s"]

    path, probe = pick_fastest(precision, dev, throughput)
    model = path.prepare_model(model)
    bias = decision_bias(artifact)
    report = evaluate_model(model, data, split_to_evaluate(data, split), path, dev, tta, batch_size, bias=bias)
    if bias is not None:
        report["decision_bias"] = artifact[DECISION_BIAS]
    report["data"] = data.source
    if data.info.get("detector"):
        report["detector"], report["no_face"] = data.info["detector"], data.info["no_face"]
    report["checkpoint"] = str(checkpoint)
    report["model"] = artifact["model_name"]
    report["numeric_path"] = path.name
    if latency:
        report["latency"] = measure_latency(model, path, dev, batch_size)
        report["latency"]["machine"] = cpu_info()["cpu_model"]
    if probe:
        report["precision_probe_faces_per_s"] = probe
    return report

