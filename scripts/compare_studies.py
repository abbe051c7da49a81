#!/usr/bin/env python
"""One condition of one study against one condition of another, paired by seed.

    python scripts/compare_studies.py runs/finish-study/00000-deep-cnn-fer2013 synthetic+oversample@median+shift \
        runs/filter-study/00000-deep-cnn-fer2013 synthetic+oversample@median+shift

`fergan study` pairs conditions within a study. When two studies train on the same data with the
same seeds and differ in one setting that is not a condition (the synthetic folder, the synthetic
share, a real finish), the question is a paired one across them: this script reads both
results.json files, keeps the seeds both ran, and prints A minus B for accuracy, macro-F1 and the
chosen emotions' recall, precision and F1 (and, where both reports scored them, the threshold-free
AUC and average precision of the models), with a 95% t-interval over seeds and a verdict. It
refuses studies scored on other test faces (the training data may differ: fewer real faces of an
emotion, say). Nothing is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ferganaug.data.errors import DataError
from ferganaug.measure import paired_delta
from ferganaug.study.plan import CELL_JSON, load_study

PER_CLASS = ("recall", "precision", "f1")
RANKING = ("auc", "average_precision", "r_precision")  # threshold-free, from the study's ranking section


def read_results(study_dir: str | Path) -> dict:
    """results.json, with ``test_targets``: the test labels its cells were scored on, item by
    item (every cell of a study has the same), so that two studies pair only on the same faces
    even when their training data differ."""
    path = Path(study_dir) / "results.json"
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no results.json; finish the study or rebuild it with "
                        f"`fergan study --report-only {study_dir}`") from None
    except ValueError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None
    for cell in load_study(study_dir)["cells"]:
        record = Path(study_dir) / cell["path"] / CELL_JSON
        if record.is_file():
            return results | {"test_targets": json.loads(record.read_text())["items"]["targets"]}
    raise DataError(f"{study_dir}: no finished cell to read the test items from")


def seed_values(results: dict, condition: str, view: str, where: str) -> tuple[list[int], dict[str, list[float]]]:
    """A condition's seeds and, per metric name (``macro_f1``, ``f1/disgust`` ...), its value per seed."""
    conditions = results["conditions"]
    if condition not in conditions:
        raise DataError(f"{where}: no condition '{condition}'; the study has {', '.join(conditions)}")
    summary = conditions[condition]
    if view not in summary["views"]:
        raise DataError(f"{where}: condition '{condition}' has no '{view}' view; it has {', '.join(summary['views'])}")
    scores = summary["views"][view]
    values = {name: scores[name]["values"] for name in ("accuracy", "macro_f1")}
    for emotion, per_class in scores["per_class"].items():
        values.update({f"{metric}/{emotion}": per_class[metric]["values"] for metric in PER_CLASS})
    # Ranking scores belong to the models, which a +shift view shares with its condition.
    trained = condition.removesuffix("+shift")
    ranked = (results.get("ranking") or {}).get("scores", {}).get(trained) if view == "test" else None
    if ranked and conditions[trained]["seeds"] == summary["seeds"]:
        for emotion, by_score in ranked.items():
            values.update({f"{name}/{emotion}": s["values"] for name, s in by_score.items() if s is not None})
    return summary["seeds"], values


def compare(a: tuple[dict, str], b: tuple[dict, str], view: str, emotions: list[str]) -> dict:
    """Paired deltas A - B over the seeds both ran, per metric."""
    (results_a, condition_a), (results_b, condition_b) = a, b
    seeds_a, values_a = seed_values(results_a, condition_a, view, "study A")
    seeds_b, values_b = seed_values(results_b, condition_b, view, "study B")
    size_a, size_b = (r["conditions"][c]["views"][view]["n"] for r, c in ((results_a, condition_a),
                                                                        (results_b, condition_b)))
    if results_a["test_targets"] != results_b["test_targets"] or size_a != size_b:
        raise DataError(f"the studies were scored on different test faces ({results_a['study']['data']}, "
                        f"{size_a} items in the {view} view; {results_b['study']['data']}, {size_b}): nothing to pair")
    shared = [s for s in seeds_a if s in seeds_b]
    if len(shared) < 2:
        raise DataError(f"study A ran seeds {seeds_a}, study B {seeds_b}: a paired interval needs two seeds in both")
    metrics = ["accuracy", "macro_f1"] + [f"{m}/{e}" for e in emotions for m in PER_CLASS + RANKING]
    rows = {}
    for metric in metrics:
        if metric.split("/")[0] in RANKING and not (metric in values_a and metric in values_b):
            continue  # a study made before its report scored rankings
        if metric not in values_a or metric not in values_b:
            raise DataError(f"'{metric}' is not scored in both studies")
        pick_a = [values_a[metric][seeds_a.index(s)] for s in shared]
        pick_b = [values_b[metric][seeds_b.index(s)] for s in shared]
        rows[metric] = {"a": sum(pick_a) / len(pick_a), "b": sum(pick_b) / len(pick_b),
                        "delta": paired_delta(pick_a, pick_b)}
    return {"seeds": shared, "rows": rows}


def format_table(comparison: dict, label_a: str, label_b: str) -> str:
    lines = [f"A: {label_a}", f"B: {label_b}", f"paired over seeds {', '.join(map(str, comparison['seeds']))}", "",
             "| metric | A, % | B, % | A - B, points [95% CI] | verdict |", "|---|---|---|---|---|"]
    for metric, row in comparison["rows"].items():
        d = row["delta"]
        lines.append(f"| {metric} | {100 * row['a']:.1f} | {100 * row['b']:.1f} | {100 * d['mean_delta']:+.1f} "
                     f"[{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}] | {d['verdict']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study_a")
    parser.add_argument("condition_a", help="e.g. synthetic+oversample@median+shift")
    parser.add_argument("study_b")
    parser.add_argument("condition_b")
    parser.add_argument("--view", default="test", choices=("test", "leak_free"))
    parser.add_argument("--emotion", action="append", default=None,
                        help="Emotions whose recall, precision and F1 are paired (repeatable); default: study A's chosen ones.")
    args = parser.parse_args(argv)
    try:
        results_a, results_b = read_results(args.study_a), read_results(args.study_b)
        emotions = args.emotion or results_a["study"]["emotions"]
        comparison = compare((results_a, args.condition_a), (results_b, args.condition_b), args.view, emotions)
    except DataError as err:
        parser.error(str(err))
    print(format_table(comparison, f"{args.condition_a} in {args.study_a}", f"{args.condition_b} in {args.study_b}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
