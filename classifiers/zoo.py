"""`fer-classify benchmark`: every registered design trained on one dataset under a per-design
time budget, each with its study recipe, measured into one table.

For each design, in registry order:

1. its recipe is resolved (as `fer-classify train --model NAME` would), designs built for
   224-pixel input get ``input_size`` (their adapter resizes the 48x48 faces);
2. the epochs that fit the budget are planned from a probe of the design's training step rate
   (the recipe's numeric path and batch size, on this machine): ``min(recipe epochs,
   budget / estimated epoch time)`` (and ``max_epochs``), the schedule spanning them;
3. it trains in ``OUT/<design>/`` (a normal run folder) and is tested on the test split
   (accuracy, the leak-free view, macro-F1, per-class recall), then its batched inference rate
   is measured with BatchNorm folded;
4. ``OUT/<design>/result.json`` is written. A design whose single epoch would not fit the
   budget is not trained; its row gives the estimated epoch time instead.

The same command again continues: finished designs are kept, an interrupted training resumes
from its checkpoint. ``OUT/zoo.json`` records the options; another budget or dataset into the
same folder is refused. ``OUT/zoo.md`` is the table.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from classifiers.checkpoint import load_classifier
from classifiers.inference import CPU, fold_batchnorm, measure_latency
from classifiers.registry import create_model, model_info
from classifiers.train_config import TrainConfig, resolve_train_config
from classifiers.workflow import DataOptions, resume_training, run_training
from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.engine.config import config_from_dict, config_to_dict
from ferganaug.engine.run_folder import CONFIG_JSON
from ferganaug.utils.files import atomic_write_json, atomic_write_text, json_text
from ferganaug.utils.hardware import describe_machine, resolve_device
from ferganaug.utils.precision import capped_probe, measure_train_throughput, pick_fastest

OPTIONS_FILE, TABLE_FILE, RESULT_FILE = "zoo.json", "zoo.md", "result.json"
# An epoch costs more than its training steps: augmentation, the sampler, validation. Measured
# on deep-cnn/FER2013 (the toolkit's epoch rate against its probe), with margin.
EPOCH_OVERHEAD = 1.3


@dataclass(frozen=True)
class ZooOptions:
    data: str
    budget_minutes: float
    models: tuple[str, ...]
    input_size: int = 112  # for designs built for 224-pixel input
    seed: int = 0
    precision: str = "auto"
    max_epochs: int | None = None  # a cap below the recipes', for a quick look

    def __post_init__(self) -> None:
        if not 0 < self.budget_minutes < math.inf:
            raise ValueError(f"budget_minutes must be a positive number, got {self.budget_minutes}")
        object.__setattr__(self, "models", tuple(self.models))


def design_config(name: str, options: ZooOptions) -> TrainConfig:
    """The design's study recipe, at ``input_size`` when it was built for larger input."""
    choices: dict = {"seed": options.seed, "precision": options.precision}
    if model_info(name)["input_spec"]["size"] > options.input_size:
        choices["model_kwargs"] = {"input_size": options.input_size}
    config = resolve_train_config(name, choices, f"benchmark of {name}")
    return config if options.max_epochs is None else replace(config, epochs=min(config.epochs, options.max_epochs))


def plan_epochs(config: TrainConfig, n_train: int, n_val: int, budget_s: float) -> tuple[int, float, str]:
    """(epochs that fit ``budget_s``, estimated seconds per epoch, the precision measured
    fastest), from the training step rate measured on this machine with the config's model,
    batch size and numeric path; the training then runs at that precision without a second probe."""
    device = resolve_device(config.device)
    num_classes = 7

    def make_model() -> torch.nn.Module:
        return create_model(config.model, num_classes=num_classes, **config.model_kwargs)

    def rate(path, floor: float = 0.0) -> float:
        return measure_train_throughput(make_model, path, device, config.batch_size, seconds=1.0, give_up_below=floor)

    path, rates = pick_fastest(config.precision, device, capped_probe(rate), rounds=1)
    images_per_s = rates.get(path.name) or rate(path)
    epoch_s = EPOCH_OVERHEAD * (n_train + n_val / 3) / images_per_s  # validation is forward only
    return min(config.epochs, int(budget_s // epoch_s)), epoch_s, path.precision


def benchmark_zoo(options: ZooOptions, out: str | Path, progress: bool = True,
                  argv: Sequence[str] | None = None) -> list[dict]:
    """Train and measure every design of ``options.models`` into ``out`` (see the module
    docstring); returns one result per design and writes ``out/zoo.md``."""
    out = Path(out)
    _check_or_write_options(out, options)
    results = []
    for name in options.models:
        result_file = out / name / RESULT_FILE
        if not result_file.is_file():
            atomic_write_json(result_file, _benchmark_design(name, options, out / name, progress, argv))
        results.append(_read_json(result_file))
        atomic_write_text(out / TABLE_FILE, zoo_table(results, options))
    return results


def _benchmark_design(name: str, options: ZooOptions, folder: Path, progress: bool,
                      argv: Sequence[str] | None) -> dict:
    config = design_config(name, options)
    info = model_info(name)
    row = {"design": name, "family": info["family"], "study": info["study"], "reported": info["reported"],
           "reported_dataset": info["dataset"], "params": info["params"],
           "input_size": config.model_kwargs.get("input_size", info["input_spec"]["size"]),
           "recipe_epochs": config.epochs, "weights": "none (trained from scratch)" if info["imagenet_arch"] else None}
    started = time.perf_counter()
    run_dir = _unfinished_run(folder)
    if run_dir is not None:
        run_dir, report = resume_training(run_dir, progress=progress)
    else:
        data = load_dataset(options.data)
        n_train, n_val = len(data.split("train")), len(data.split("val"))
        epochs, epoch_s, precision = plan_epochs(config, n_train, n_val, 60 * options.budget_minutes)
        row["estimated_epoch_s"] = round(epoch_s, 1)
        if epochs < 1:
            return row | {"trained": False, "why": f"one epoch takes about {epoch_s / 60:.1f} min, over the "
                                                   f"{options.budget_minutes:g}-minute budget"}
        config = replace(config, epochs=epochs, precision=precision)
        run_dir, report = run_training(config, DataOptions(spec=options.data), runs_root=folder, progress=progress,
                                       argv=argv)
    model, _ = load_classifier(run_dir / "model.pt")
    model = fold_batchnorm(model.eval())

    def faces_per_s(path) -> float:
        return measure_latency(path.prepare_model(model), path, CPU, 256, seconds=1.0)["batched"]["faces_per_s"]

    path, rates = pick_fastest(options.precision, CPU, faces_per_s, rounds=1)
    rate = rates.get(path.name) or faces_per_s(path)
    leak_free = report.get("leak_free") or {}
    trained_with = _read_json(run_dir / CONFIG_JSON)["train"]
    return row | {
        "trained": True, "run_dir": str(run_dir), "epochs": trained_with["epochs"],
        "train_precision": trained_with["precision"],
        "wall_s": round(time.perf_counter() - started, 1),
        "accuracy": report["accuracy"], "leak_free_accuracy": leak_free.get("accuracy"), "macro_f1": report["macro_f1"],
        "recall": {c: report["per_class"][c]["recall"] for c in report["class_names"]},
        "faces_per_s": round(rate), "inference_path": path.name, "machine": describe_machine(),
    }


def _unfinished_run(folder: Path) -> Path | None:
    """A run folder of an earlier, interrupted benchmark of this design (a config but no model)."""
    runs = sorted(p for p in folder.glob("*") if (p / CONFIG_JSON).is_file() and not (p / "model.pt").is_file())
    return runs[-1] if runs else None


def _check_or_write_options(out: Path, options: ZooOptions) -> None:
    saved_file = out / OPTIONS_FILE
    if saved_file.is_file():
        saved = config_from_dict(ZooOptions, _read_json(saved_file), str(saved_file))
        if saved != options:
            raise DataError(f"{out} holds a benchmark with other options ({json_text(config_to_dict(saved))}); "
                            "give another --out, or the same options to continue it")
        return
    atomic_write_json(saved_file, config_to_dict(options))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def zoo_table(results: Sequence[dict], options: ZooOptions) -> str:
    """The table as Markdown: one row per design, per-class recall in %."""
    classes = next((list(r["recall"]) for r in results if r.get("trained")), [])
    head = ["design", "params", "input", "epochs", "wall", "accuracy", "leak-free", "macro-F1",
            *classes, "faces/s", "the study reported"]
    trained = [r for r in results if r.get("trained")]
    facts = [f"Budget {options.budget_minutes:g} min per design on {options.data} (test split), seed {options.seed}."]
    for key, what in (("machine", "Machine"), ("train_precision", "Trained at precision"),
                      ("inference_path", "Inference (faces/s, batch 256, BatchNorm folded) on")):
        values = sorted({str(r[key]) for r in trained if r.get(key)})
        if values:
            facts.append(f"{what}: {'; '.join(values)}.")
    lines = [" ".join(facts), "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        reported = r["reported"] + (f" on {r['reported_dataset']}" if r["reported_dataset"] else "")
        size = f"{r['input_size']}" + (" (of 224)" if r["input_size"] != 48 and r["input_size"] < 224 else "")
        design = r["design"] + (" (no ImageNet weights)" if r.get("weights") else "")
        if not r.get("trained"):
            cells = [design, f"{r['params']:,}", size, f"0 of {r['recipe_epochs']}", "-", "-", "-", "-",
                     *["-"] * len(classes), "-", reported]
            cells[4] = f"not trained: {r['why']}"
        else:
            cells = [design, f"{r['params']:,}", size, f"{r['epochs']} of {r['recipe_epochs']}",
                     f"{r['wall_s'] / 60:.1f} min", _pct(r["accuracy"]), _pct(r["leak_free_accuracy"]),
                     _pct(r["macro_f1"]), *(f"{100 * r['recall'][c]:.1f}" for c in classes),
                     f"{r['faces_per_s']:,}", reported]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"
