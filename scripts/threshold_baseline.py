#!/usr/bin/env python
"""Are a condition's gains worth more than moving one emotion's decision boundary?

    python scripts/threshold_baseline.py runs/fer2013-augmentation/study/00000-deep-cnn-fer2013 --emotion disgust

`fergan study` scores every condition with the chosen emotions' boundaries shifted by a bias
chosen on the validation split (`<condition>+shift`). This script adds what a study must not
use: the bias chosen on the test split itself, which bounds what any shift of one boundary can
buy a condition's models. For every finished cell it reads the cell's log_probs.npz (or, for a
cell finished without one, reloads its model.pt and predicts its validation and test splits with
the cell's own numeric path and test-time augmentation) and scores three views on the test split:

- as trained: the cell's own predictions (the agreement with cell.json is printed);
- shifted (val): the bias that maximises the emotion's F1 (or macro-F1) on the validation split,
  applied to the test split unchanged: a rebalancer a practitioner can use;
- shifted (test): the bias chosen on the test split itself. Not a method (it tunes the test
  split); a bound.

Then it pairs every condition, seed by seed, with the reference condition's shifted (val) view:
a synthetic condition beats plain rebalancing only if it beats rebalancing with a tuned boundary
too. Its shifted (test) view, paired the same way, bounds what any one boundary could buy it
against that reference; paired with the reference's own shifted (test) view, it says whether its
models are better at their best boundary. Writes STUDY/threshold.md and STUDY/threshold.json (threshold-macro_f1.* with --objective
macro_f1); the study's own files are not touched.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ferganaug.data.spec import load_dataset
from ferganaug.measure import mean_ci_over_seeds, paired_delta
from ferganaug.measure.threshold import shifted_predictions, tune_bias
from ferganaug.study import load_cells, load_study, seed_scores
from ferganaug.study.shift import predict_log_probs, read_log_probs
from ferganaug.utils.files import atomic_write_json, atomic_write_text

VIEWS = ("as trained", "shifted (val)", "shifted (test)")
METRICS = ("macro_f1", "recall", "precision", "f1")


def score_cell(logits: dict[str, np.ndarray], emotion: int, names: tuple[str, ...], objective: str) -> dict:
    """The three views of one cell: chosen biases and test scores of the emotion and macro-F1."""
    test, targets = logits["test"], logits["test_targets"]
    biases = {"as trained": 0.0,
              "shifted (val)": tune_bias(logits["val"], logits["val_targets"], emotion, objective),
              "shifted (test)": tune_bias(test, targets, emotion, objective)}
    views = {}
    for view, bias in biases.items():
        s = seed_scores(targets, shifted_predictions(test, emotion, bias), names)
        m = s["per_class"][names[emotion]]
        views[view] = {"bias": bias, "macro_f1": s["macro_f1"], "recall": m["recall"], "precision": m["precision"],
                       "f1": m["f1"]}
    return views


def measure(study_dir: Path, emotion: str, objective: str) -> dict:
    study = load_study(study_dir)
    data = load_dataset(study["config"]["data"], cache_dir=study["config"].get("cache_dir"))
    names = tuple(data.class_names)
    if emotion not in names:
        raise SystemExit(f"--emotion {emotion}: the study's data has {', '.join(names)}")
    index = names.index(emotion)
    conditions: dict[str, dict[int, dict]] = {}
    agreement = []
    for cell in load_cells(study_dir, study):
        logits = read_log_probs(study_dir / cell["path"]) or predict_log_probs(study_dir / cell["path"], cell, data)
        agreement.append(float(np.mean(logits["test"].argmax(axis=1) == np.array(cell["items"]["predictions"]))))
        views = score_cell(logits, index, names, objective)
        conditions.setdefault(cell["condition"], {})[cell["seed"]] = views
        print(f"{cell['condition']}, seed {cell['seed']}: bias {views['shifted (val)']['bias']:+.2f} (val), "
              f"agreement with cell.json {agreement[-1]:.4f}", flush=True)
    if not conditions:
        raise SystemExit(f"{study_dir}: no finished cells")
    return {"study": str(study_dir), "emotion": emotion, "objective": objective, "conditions": conditions,
            "min_agreement_with_cells": min(agreement)}


def _pct(mean: float, std: float) -> str:
    return f"{mean * 100:.1f} ± {std * 100:.1f}"


def summary_rows(result: dict) -> list[str]:
    e = result["emotion"]
    lines = [f"| condition | view | bias (mean) | macro-F1 | {e} recall | {e} precision | {e} F1 |",
             "|---|---|---|---|---|---|---|"]
    for condition, seeds in result["conditions"].items():
        for view in VIEWS:
            cells = [condition, view, f"{np.mean([s[view]['bias'] for s in seeds.values()]):+.2f}"]
            for metric in METRICS:
                mean, std, _, _ = mean_ci_over_seeds([s[view][metric] for s in seeds.values()])
                cells.append(_pct(mean, std))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


# (a condition's view, the reference's view) pairs of the paired table: the first two ask whether
# a condition beats rebalancing with a tuned boundary; the test-tuned rows bound what any single
# boundary could buy it, against the practitioner's reference and against the reference's own bound.
COMPARISONS = (("as trained", "shifted (val)"), ("shifted (val)", "shifted (val)"),
               ("shifted (test)", "shifted (val)"), ("shifted (test)", "shifted (test)"))


def paired_rows(result: dict, reference: str) -> list[str]:
    """Every condition's views against the reference's, seed by seed (see COMPARISONS)."""
    e, ref = result["emotion"], result["conditions"][reference]
    lines = [f"| condition | view | against {reference} | seeds | macro-F1 | {e} F1 | {e} recall |",
             "|---|---|---|---|---|---|---|"]
    for condition, seeds in result["conditions"].items():
        shared = sorted(set(seeds) & set(ref))
        if len(shared) < 2:
            continue
        for view, ref_view in COMPARISONS:
            if condition == reference and view == ref_view:  # a view against itself
                continue
            cells = [condition, view + (", a bound" if view == "shifted (test)" else ""), ref_view, str(len(shared))]
            for metric in ("macro_f1", "f1", "recall"):
                d = paired_delta([seeds[s][view][metric] for s in shared],
                                 [ref[s][ref_view][metric] for s in shared])
                cells.append(f"{d['mean_delta'] * 100:+.1f} [{d['ci_low'] * 100:+.1f}, {d['ci_high'] * 100:+.1f}] "
                             f"{d['verdict']}")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="A fergan study folder (finished cells are read).")
    parser.add_argument("--emotion", default="disgust")
    parser.add_argument("--objective", default="f1", choices=["f1", "macro_f1"],
                        help="What the validation bias maximises: the emotion's F1 or macro-F1.")
    parser.add_argument("--reference", default="oversample",
                        help="The condition whose shifted (val) view the others are paired against.")
    args = parser.parse_args(argv)
    if not (args.study / "study.json").is_file():
        parser.error(f"{args.study}: not a fergan study folder (no study.json)")
    result = measure(args.study, args.emotion, args.objective)
    if args.reference not in result["conditions"]:
        parser.error(f"--reference {args.reference}: the study's finished cells are of "
                     f"{', '.join(result['conditions'])}")
    lines = [f"# {args.emotion}: each condition against a shifted {args.emotion} boundary", "",
             f"Study `{args.study}`; the bias on the {args.emotion} log-probability maximises "
             f"{'its F1' if args.objective == 'f1' else 'macro-F1'}; test split, %, mean ± std over seeds; "
             f"re-predicted cells agree with cell.json on at least {result['min_agreement_with_cells']:.2%} "
             "of test faces. 'shifted (test)' tunes the test split: a bound, not a method.", ""]
    lines += summary_rows(result)
    lines += ["", "Paired by seed (mean [95% t-interval]):", ""]
    lines += paired_rows(result, args.reference)
    stem = "threshold" if args.objective == "f1" else f"threshold-{args.objective}"  # one file per objective
    atomic_write_text(args.study / f"{stem}.md", "\n".join(lines) + "\n")
    atomic_write_json(args.study / f"{stem}.json", result | {"reference": args.reference})
    print("\n".join(lines))
    return args.study / f"{stem}.md"


if __name__ == "__main__":
    main()
