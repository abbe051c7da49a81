"""`fergan evaluate RUN_OR_SYNTHETIC_DIR` as one library call: find out what the argument is,
load the real data and the evaluator (training it when needed), measure, and write
``metrics.json`` and ``metrics.png`` (into the run folder, or into the synthetic folder)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.evaluate.evaluator import resolve_evaluator
from ferganaug.evaluate.inputs import evaluation_kind, load_real_data, read_synthetic_folder
from ferganaug.evaluate.measure import DEFAULT_N_PER_EMOTION, measure_generator, measure_synthetic
from ferganaug.evaluate.report import write_metrics
from ferganaug.gan.expression import loss_classifier_checkpoints

log = logging.getLogger(__name__)

LOSS_CLASSIFIER_DIR = "expression-classifier"  # where fergan train keeps its own classifier


def evaluate_path(
    target: str | Path,
    *,
    data: str | None = None,
    evaluator: str | Path | None = None,
    evaluator_model: str = "resnet-baseline",
    evaluator_epochs: int | None = None,
    evaluator_preset: str | None = None,
    evaluator_seed: int = 1,
    evaluator_precision: str = "auto",
    evaluator_sampler: str = "balanced",
    sources_split: str = "test",
    n_per_emotion: int = DEFAULT_N_PER_EMOTION,
    seed: int = 0,
    progress: bool = True,
    two_sample: bool = True,
) -> tuple[dict, Path, Path]:
    """Evaluate a `fergan train` run (or its generator.pt) or a `fergan synthesize` folder;
    returns the report and the paths of metrics.json and metrics.png.

    ``data`` is the real dataset (default: the generator's training data, or the synthetic
    folder's source data); without ``evaluator`` one is found or trained in
    ``<generator run>/evaluator-<model>-seed<seed>`` (a synthetic folder whose generator run
    is not at hand keeps it in the folder itself), with ``evaluator_precision`` ("auto" measures
    the fastest path; "fp32" skips the probe) and ``evaluator_sampler`` (class-"balanced" batches,
    or the data's "natural" frequencies); ``evaluator_preset``, a classifier preset, gives its
    design and recipe instead of ``evaluator_model``'s; ``two_sample=False`` skips the two-sample test."""
    loaded: dict[str, object] = {}

    def load(spec: str):
        if spec not in loaded:
            loaded[spec] = load_dataset(spec)
        return loaded[spec]

    if evaluation_kind(target) == "generator":
        what = _generator_target(target, data, sources_split, n_per_emotion, seed, progress, two_sample)
    else:
        what = _synthetic_target(target, data, load, n_per_emotion, seed, progress, two_sample)
    real = load_real_data(what.spec, load)
    checkpoint, trained = resolve_evaluator(evaluator, what.spec, what.home, evaluator_model, evaluator_epochs,
                                            evaluator_seed, progress, evaluator_precision, evaluator_sampler,
                                            evaluator_preset)
    report, grid = what.measure(real, checkpoint)
    report.update(what.facts)
    report["data"] = what.spec
    ev = report["summary"]["evaluator"]
    ev["trained_here"] = trained
    ev["is_loss_classifier"] = any(_is_loss_classifier(checkpoint, run) for run in what.runs)
    if ev["is_loss_classifier"]:
        log.warning("the evaluator %s is the GAN's own loss classifier: its hit rate is no independent evidence",
                    checkpoint)
    json_path, png_path = write_metrics(report, what.out_dir, grid)
    return report, json_path, png_path


@dataclass(frozen=True)
class _Target:
    """What `fergan evaluate` was pointed at, resolved: the real data's spec, where an evaluator
    trained for it lives (``home``), where the metrics go, the `fergan train` runs whose loss
    classifiers it must not be judged by, how to measure it and what the report says it was."""

    spec: str
    home: Path
    out_dir: Path
    runs: list[Path]
    measure: Callable[[object, Path], tuple[dict, object]]  # (real data, evaluator) -> (report, grid)
    facts: dict


def _generator_target(target: str | Path, data: str | None, sources_split: str, n_per_emotion: int, seed: int,
                      progress: bool, two_sample: bool) -> _Target:
    # synth owns "a generator from a run folder" (a layer-2 peer; imported here only)
    from ferganaug.synth import load_generator_file

    gen = load_generator_file(target)
    spec = data or gen.data_spec
    if spec is None:
        raise DataError(f"{gen.path} has no run folder naming its training data; give --data SPEC")
    home = Path(gen.path).parent

    def measure(real, checkpoint):
        return measure_generator(gen.model, gen.source_emotions, real, checkpoint, sources_split, n_per_emotion,
                                 seed, progress, two_sample)

    return _Target(spec, home, home, [home], measure, {"generator": {"path": gen.path, "step": gen.step}})


def _synthetic_target(target: str | Path, data: str | None, load: Callable[[str], object], n_per_emotion: int,
                      seed: int, progress: bool, two_sample: bool) -> _Target:
    folder = read_synthetic_folder(target, load=load)
    spec = data or (folder.source_specs[0] if len(folder.source_specs) == 1 else None)
    if spec is None:
        named = f"names {len(folder.source_specs)} source datasets" if folder.source_specs else "names no source_spec"
        raise DataError(f"{folder.path}: its manifest {named}; give the real data with --data SPEC")

    def measure(real, checkpoint):
        return measure_synthetic(folder, real, checkpoint, n_per_emotion, seed, progress, two_sample)

    facts = {"synthetic": {"path": str(folder.path), "rows": len(folder.faces), "generators": list(folder.generators),
                           "steps": list(folder.steps), "source_specs": list(folder.source_specs)}}
    return _Target(spec, folder.generator_run or folder.path, folder.path,
                   [folder.generator_run] if folder.generator_run else [], measure, facts)


def _is_loss_classifier(checkpoint: str | Path, run_dir: Path) -> bool:
    """Whether ``checkpoint`` is a classifier a `fergan train` run trained its generator against."""
    def resolved(p) -> Path:
        p = Path(p)
        return (p / "model.pt" if p.is_dir() else p).resolve()

    known = [run_dir / LOSS_CLASSIFIER_DIR / "model.pt"]
    try:
        facts = json.loads((run_dir / "config.json").read_text())["expression_classifier"]
        known.extend(Path(checkpoint) for checkpoint in loss_classifier_checkpoints(facts))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    mine = resolved(checkpoint)
    return any(resolved(k) == mine for k in known)
