"""From finished cells to the study's numbers (the content of results.json).

Everything is recomputed from each cell's per-item test predictions, so a report can be
rebuilt from the cells alone. Two views of the test split: all of it (``test``) and the
leak-free view (``leak_free``: test faces that are pixel copies of training faces dropped).

Per condition and view:

- per-class recall, precision and F1, macro-F1 and accuracy per seed, with the mean, the std
  over seeds (ddof=1) and a Student-t 95% interval of the mean (``mean_ci_over_seeds``):
  how much a score moves from training run to training run;
- ``recall_bootstrap_ci``: a percentile bootstrap 95% interval over test items of each
  class's *seed-mean* recall. Every resample draws the same test items for all seeds (the
  predictions are an [items, seeds] array resampled by row), so it says how much the
  seed-mean recall would move on another test set of the same size.

With shifted boundaries on (the study's ``shift`` setting, see :mod:`ferganaug.study.shift`),
every condition whose cells kept their log-probabilities has a ``<condition>+shift`` twin,
summarised and compared like any condition.

Comparisons, paired seed by seed (``paired_delta``: seed i against seed i), with a verdict
"helped" / "hurt" (the whole interval on one side of zero) / "within noise":

- every condition against ``baseline``;
- every condition against the best rebalancing condition (class-weights, oversample or,
  when the study runs it, logit-adjust, and the shifted views of these and of baseline:
  whichever has the highest mean test macro-F1; results say which and why), every metric
  paired seed by seed against that condition;
- every synthetic condition against the best condition without synthetic faces *per metric*
  (macro-F1, and each chosen emotion's F1 and recall: the rebalancing condition with the
  highest mean of that metric), the comparison a practitioner's choice faces;
- a delta within noise carries ``seeds_needed``: how many paired seeds would separate a change
  of that size at the measured spread (a planning figure, not a promise);
- for the first chosen emotion, also a paired bootstrap over test items of the seed-mean
  recall difference (``paired_bootstrap_delta``, same items for both conditions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch

from classifiers.metrics import confusion_matrix, per_class_metrics
from ferganaug.measure import bootstrap_metric_ci, paired_bootstrap_delta, paired_delta, summarise_seeds
from ferganaug.study.conditions import BASELINE, REBALANCING, SYNTHETIC_CONDITIONS, StudyError
from ferganaug.study.ranking import ranking_section
from ferganaug.study.shift import shifted_cell, shifted_name, unshifted_name

CONFIDENCE = 0.95
VIEWS = ("test", "leak_free")
CLASS_METRICS = ("recall", "precision", "f1")


def _clean(x: float | None) -> float | None:
    """JSON has no NaN: an interval that does not exist is None."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def seed_scores(targets: np.ndarray, predictions: np.ndarray, class_names: tuple[str, ...]) -> dict:
    """Accuracy, macro-F1 (over classes present), per-class P/R/F1/support and the confusion
    matrix of one set of predictions; the same arithmetic as classifiers.metrics."""
    cm = confusion_matrix(torch.as_tensor(targets), torch.as_tensor(predictions), len(class_names))
    per_class = per_class_metrics(cm, class_names)
    present = [m for m in per_class.values() if m["support"] > 0]
    return {
        "n": len(targets),
        "accuracy": float((targets == predictions).mean()) if len(targets) else 0.0,
        "macro_f1": float(np.mean([m["f1"] for m in present])) if present else 0.0,
        "per_class": per_class,
        "confusion": cm.tolist(),
    }


def stat(values: list[float]) -> dict:
    """Per-seed values with their mean, std and t-interval of the mean (None: one seed)."""
    return summarise_seeds(values, CONFIDENCE)


def seed_mean_recall(c: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """metric(targets [N], predictions [N, seeds]): class c's recall averaged over seeds.
    All seeds share the targets, so this is hits over (items of class c) x seeds."""
    def metric(t: np.ndarray, p: np.ndarray) -> float:
        rows = t == c
        return float((p[rows] == c).mean()) if rows.any() else float("nan")
    return metric


class _Condition:
    """The finished cells of one condition, stacked: targets [N], predictions [N, seeds]."""

    def __init__(self, name: str, cells: list[dict]) -> None:
        cells = sorted(cells, key=lambda c: c["seed"])
        self.name = name
        self.cells = cells
        self.seeds = [c["seed"] for c in cells]
        self.targets = np.asarray(cells[0]["items"]["targets"], dtype=np.int64)
        for c in cells[1:]:
            if c["items"]["targets"] != cells[0]["items"]["targets"]:
                raise StudyError(f"cells of '{name}' were scored on different test items ({c['path']})")
        self.predictions = np.stack([np.asarray(c["items"]["predictions"], dtype=np.int64) for c in cells], axis=1)
        mask = cells[0]["items"]["leak_free"]
        self.masks = {"test": np.ones(len(self.targets), bool),
                      "leak_free": np.ones(len(self.targets), bool) if mask is None else np.asarray(mask, bool)}

    def view(self, view: str) -> tuple[np.ndarray, np.ndarray]:
        keep = self.masks[view]
        return self.targets[keep], self.predictions[keep]


def _summarise_view(cond: _Condition, view: str, names: tuple[str, ...], n_boot: int) -> tuple[dict, list[dict]]:
    t, p = cond.view(view)
    per_seed = [seed_scores(t, p[:, s], names) for s in range(p.shape[1])]
    out = {"n": len(t), "accuracy": stat([s["accuracy"] for s in per_seed]),
           "macro_f1": stat([s["macro_f1"] for s in per_seed]), "per_class": {}}
    for c, name in enumerate(names):
        support = per_seed[0]["per_class"][name]["support"]
        entry: dict = {"support": support}
        for metric in CLASS_METRICS:
            # A class absent from the view has no recall: None, not the 0.0 a table would misread.
            entry[metric] = stat([s["per_class"][name][metric] for s in per_seed]) if support else None
        entry["recall_bootstrap_ci"] = None
        if support:
            low, high = bootstrap_metric_ci(t, p, seed_mean_recall(c), n_boot=n_boot, confidence=CONFIDENCE, seed=0)
            entry["recall_bootstrap_ci"] = [_clean(low), _clean(high)]
        out["per_class"][name] = entry
    return out, per_seed


def _paired(a: dict, b: dict, names: tuple[str, ...]) -> dict:
    """Paired deltas a - b over the seeds both have, for every headline score; ``a`` and
    ``b`` are {"seeds": [...], "values": {score: [one per seed]}}."""
    seeds = [s for s in a["seeds"] if s in b["seeds"]]
    out: dict = {"seeds": seeds}
    for key in a["values"] if seeds else ():
        va, vb = dict(zip(a["seeds"], a["values"][key])), dict(zip(b["seeds"], b["values"][key]))
        if any(va[s] is None or vb[s] is None for s in seeds):
            continue  # a class absent from the test split has no recall to compare
        out[key] = paired_delta([va[s] for s in seeds], [vb[s] for s in seeds], CONFIDENCE)
    for kind in ("recall", "f1"):
        out[kind] = {n: out.pop(f"{kind}/{n}") for n in names if f"{kind}/{n}" in out}
    return out


def _metric_label(metric: str) -> str:
    """'macro_f1' -> 'macro-F1', 'f1/disgust' -> 'disgust F1', 'recall/disgust' -> 'disgust recall'."""
    if metric == "macro_f1":
        return "macro-F1"
    kind, name = metric.split("/")
    return f"{name} {'F1' if kind == 'f1' else kind}"


def is_synthetic(condition: str) -> bool:
    """Whether a condition (or its shifted view) trains on synthetic faces."""
    return unshifted_name(condition).split("@")[0] in SYNTHETIC_CONDITIONS


def rebalancing_conditions(names: Iterable[str]) -> list[str]:
    """The rebalancers among ``names``: REBALANCING as trained, then the shifted views of those
    and of baseline (a boundary tuned on validation faces is itself a rebalancer). Ties go to
    the one listed first."""
    shifted = [shifted_name(c) for c in (BASELINE, *REBALANCING)]
    return [c for c in (*REBALANCING, *shifted) if c in names]


def _best_per_metric(summaries: dict, emotions: list[str]) -> dict[str, str | None]:
    """For macro-F1 and each chosen emotion's F1 and recall, the condition without synthetic
    faces (of :func:`rebalancing_conditions`, those run) with the highest mean test value; a tie
    goes to the one listed first. None when no rebalancing condition ran."""
    candidates = rebalancing_conditions(summaries)
    best: dict[str, str | None] = {}
    for metric in ["macro_f1"] + [f"{kind}/{e}" for e in emotions for kind in ("f1", "recall")]:
        means = {}
        for c in candidates:
            if c in summaries:
                test = summaries[c]["views"]["test"]
                kind, _, name = metric.partition("/")
                entry = test["macro_f1"] if metric == "macro_f1" else test["per_class"][name][kind]
                if entry is not None:
                    means[c] = entry["mean"]
        best[metric] = max(means, key=lambda c: (means[c], -candidates.index(c))) if means else None
    return best


def _vs_best_per_metric(paired_inputs: dict, references: dict[str, str | None]) -> dict:
    """Every synthetic condition against the best condition without synthetic faces, metric by
    metric, paired by the seeds both have."""
    out: dict = {"references": references, "conditions": {}}
    for name, inputs in paired_inputs.items():
        if not is_synthetic(name):
            continue
        out["conditions"][name] = {}
        for metric, ref in references.items():
            if ref is None:
                continue
            a, b = inputs, paired_inputs[ref]
            seeds = [s for s in a["seeds"] if s in b["seeds"]]
            va, vb = dict(zip(a["seeds"], a["values"][metric])), dict(zip(b["seeds"], b["values"][metric]))
            if seeds and all(va[s] is not None and vb[s] is not None for s in seeds):
                out["conditions"][name][metric] = paired_delta([va[s] for s in seeds], [vb[s] for s in seeds],
                                                               CONFIDENCE)
    return out


def _best_rebalancing(summaries: dict) -> dict:
    """The rebalancing condition (:func:`rebalancing_conditions`) with the highest mean test
    macro-F1 (a tie goes to the one listed first)."""
    order = rebalancing_conditions(summaries)
    candidates = {c: summaries[c]["views"]["test"]["macro_f1"]["mean"] for c in order}
    if not candidates:
        return {"condition": None, "macro_f1_means": {}, "why": f"none of {', '.join(REBALANCING)} was run"}
    best = max(candidates, key=lambda c: (candidates[c], -order.index(c)))
    most = "higher" if len(candidates) == 2 else "highest"
    why = (f"{most} mean test macro-F1 ({', '.join(f'{c} {v * 100:.2f}%' for c, v in candidates.items())})"
           if len(candidates) > 1 else "the only rebalancing condition run")
    return {"condition": best, "macro_f1_means": candidates, "why": why}


def shift_objective(study: dict) -> str:
    """What a shifted view's bias maximises ("f1", "macro_f1"), or "none"; studies planned
    before the setting existed get the default."""
    return study["config"].get("shift", "f1")


def _with_shifted_views(study: dict, cells: list[dict]) -> tuple[list[dict], list[str]]:
    """The cells plus the shifted view of every cell that carries ``log_probs``, and the
    condition order with each shifted view after its condition."""
    order, objective = list(study["condition_names"]), shift_objective(study)
    if objective == "none":
        return cells, order
    names, emotions = tuple(study["data"]["class_names"]), list(study["config"]["emotions"])
    views = [shifted_cell(c, names, emotions, objective) for c in cells if "log_probs" in c]
    shifted = {v["condition"] for v in views}
    return cells + views, [n for c in order for n in (c, shifted_name(c)) if n in shifted or n == c]


def aggregate(study: dict, cells: list[dict], n_boot: int = 1000) -> dict:
    """results.json's content from study.json and the finished cells (see the module docstring)."""
    names = tuple(study["data"]["class_names"])
    emotions = list(study["config"]["emotions"])
    done = {(c["condition"], c["seed"]) for c in cells}
    missing = [f"{c['condition']} seed {c['seed']}" for c in study["cells"] if (c["condition"], c["seed"]) not in done]
    with_views, order = _with_shifted_views(study, cells)
    by_condition: dict[str, list[dict]] = {}
    for cell in with_views:
        by_condition.setdefault(cell["condition"], []).append(cell)
    summaries: dict[str, dict] = {}
    stacks: dict[str, _Condition] = {}
    paired_inputs: dict[str, dict] = {}
    for name in [n for n in order if n in by_condition]:
        stacks[name] = _Condition(name, by_condition[name])
        summaries[name], paired_inputs[name] = _summarise_condition(stacks[name], names, emotions, n_boot)
    best = _best_rebalancing(summaries)
    references = {"vs_baseline": BASELINE if BASELINE in summaries else None, "vs_best_rebalancing": best["condition"]}
    main = emotions[0]
    deltas, item_boot = _paired_deltas(references, stacks, paired_inputs, names, main, n_boot)
    deltas["vs_best_per_metric"] = _vs_best_per_metric(paired_inputs, _best_per_metric(summaries, emotions))
    return {
        "study": {
            "data": study["data"]["spec"], "model": study["config"]["model"], "epochs": study["config"]["epochs"],
            "preset": study["config"].get("preset"),
            "seeds": study["config"]["seeds"], "emotions": emotions, "class_names": list(names),
            "condition_names": order, "synthetic": (study.get("synthetic") or {}).get("path"),
            "synthetic_share": _synthetic_share(study), "real_finish_epochs": _real_finish_epochs(study),
            "synthetic_weight": _synthetic_weight(study), "shift": shift_objective(study),
        },
        "confidence": CONFIDENCE,
        "n_boot": n_boot,
        "cells": {"planned": len(study["cells"]), "finished": len(cells), "missing": missing},
        "conditions": summaries,
        "best_rebalancing": best,
        "deltas": deltas,
        "ranking": ranking_section(cells, list(study["condition_names"]), names, emotions, best["condition"]),
        "item_bootstrap": {"emotion": main, "metric": f"{main} recall, mean over seeds", **item_boot},
        "verdicts": _verdicts(deltas, emotions),
        "verdicts_per_metric": _verdicts_per_metric(deltas["vs_best_per_metric"]),
        "synthetic_plan": study.get("synthetic_plan", {}),
        "time": {
            "train_seconds": float(sum(c["train_seconds"] for c in cells)),
            "cell_wall_seconds": float(sum(c["wall_seconds"] for c in cells)),
        },
    }


def _summarise_condition(cond: _Condition, names: tuple[str, ...], emotions: list[str],
                         n_boot: int) -> tuple[dict, dict]:
    """(the condition's summary for results.json, its per-seed scores for pairing)."""
    views, per_seed_views = {}, {}
    for view in VIEWS:
        views[view], per_seed_views[view] = _summarise_view(cond, view, names, n_boot)
    test, clean = per_seed_views["test"], per_seed_views["leak_free"]
    summary = {
        "seeds": cond.seeds,
        "views": views,
        "confusion_sum": np.sum([s["confusion"] for s in test], axis=0).tolist(),
        "synthetic_added": {e: [c["synthetic_added"].get(e, 0) for c in cond.cells] for e in emotions}
        if is_synthetic(cond.name) else None,
        "train_seconds": [c["train_seconds"] for c in cond.cells],
        "shift": {e: [c["shift"][e] for c in cond.cells] for e in emotions} if "shift" in cond.cells[0] else None,
    }
    paired = {"seeds": cond.seeds, "values": {
        "accuracy": [s["accuracy"] for s in test], "macro_f1": [s["macro_f1"] for s in test],
        "leak_free_accuracy": [s["accuracy"] for s in clean], "leak_free_macro_f1": [s["macro_f1"] for s in clean],
        **{f"{kind}/{n}": [s["per_class"][n][kind] if s["per_class"][n]["support"] else None for s in test]
           for kind in ("recall", "f1") for n in names},
    }}
    return summary, paired


def _paired_deltas(references: dict[str, str | None], stacks: dict[str, _Condition], paired_inputs: dict[str, dict],
                   names: tuple[str, ...], main: str, n_boot: int) -> tuple[dict, dict]:
    """Every condition against each reference: paired by seed (deltas) and by test item (the
    bootstrap of ``main``'s seed-mean recall)."""
    deltas, item_boot = {}, {}
    metric = seed_mean_recall(names.index(main))
    for key, ref in references.items():
        deltas[key] = {"reference": ref, "conditions": {}}
        item_boot[key] = {"reference": ref, "conditions": {}}
        if ref is None:
            continue
        for name in stacks:
            if name in (ref, BASELINE):
                continue
            deltas[key]["conditions"][name] = _paired(paired_inputs[name], paired_inputs[ref], names)
            a, b = stacks[name], stacks[ref]
            seeds = [s for s in a.seeds if s in b.seeds]
            if seeds:
                pa = a.predictions[:, [a.seeds.index(s) for s in seeds]]
                pb = b.predictions[:, [b.seeds.index(s) for s in seeds]]
                result = paired_bootstrap_delta(a.targets, pa, pb, metric, n_boot=n_boot, seed=0, confidence=CONFIDENCE)
                item_boot[key]["conditions"][name] = result | {"mean_delta": _clean(result["mean_delta"]),
                                                               "seeds": seeds}
    return deltas, item_boot


def _synthetic_share(study: dict) -> float | None:
    """The share of synthetic draws the synthetic+oversample cells held to; None when none ran."""
    shares = {c["train"].get("synthetic_share") for c in study["cells"]} - {None}
    return shares.pop() if shares else None


def _real_finish_epochs(study: dict) -> int:
    """How many final epochs the synthetic+oversample cells drew real faces only; 0 when none did."""
    return max((c["train"].get("real_finish_epochs", 0) for c in study["cells"]), default=0)


def _synthetic_weight(study: dict) -> float | None:
    """The loss weight of the synthetic cells' synthetic faces; None when no synthetic cell ran."""
    data = [c.get("data", {}) for c in study["cells"]]
    weights = {d.get("augment_weight", 1.0) for d in data if d.get("augment_with")}
    return weights.pop() if weights else None


def _points(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.1f}"


def verdict_text(metric: str, condition: str, reference: str, delta: dict) -> str:
    """'disgust recall: synthetic@median vs baseline +12.3 points [95% CI +8.1, +16.5]: helped'."""
    head = f"{metric}: {condition} vs {reference} {_points(delta['mean_delta'])} points"
    if delta.get("ci_low") is None:
        return f"{head} (one seed: no interval): no verdict"
    text = f"{head} [95% CI {_points(delta['ci_low'])}, {_points(delta['ci_high'])}]: {delta['verdict']}"
    if delta["verdict"] != "within noise":
        return text
    needed = delta.get("seeds_needed")
    return text + (f" (at this spread about {needed} paired seeds would separate a change of this size)" if needed
                   else " (at this spread no practical number of seeds would separate it)")


def _verdicts_per_metric(vs_best: dict) -> list[dict]:
    """One line per synthetic condition and headline metric, against the best condition without
    synthetic faces for that metric."""
    lines = []
    for condition, by_metric in vs_best["conditions"].items():
        for metric, delta in by_metric.items():
            ref = vs_best["references"][metric]
            lines.append({"metric": metric, "condition": condition, "reference": ref,
                          "verdict": delta["verdict"] if delta.get("ci_low") is not None else None,
                          "text": verdict_text(_metric_label(metric), condition, ref, delta)})
    return lines


def _verdicts(deltas: dict, emotions: list[str]) -> list[dict]:
    """One plain-words line per chosen emotion, condition and reference (baseline first)."""
    lines = []
    for key in ("vs_baseline", "vs_best_rebalancing"):
        ref = deltas[key]["reference"]
        for condition, d in deltas[key]["conditions"].items():
            if key == "vs_best_rebalancing" and not is_synthetic(condition):
                continue  # against the best rebalancing only synthetic faces are on trial
            for e in emotions:
                if e in d.get("recall", {}):
                    delta = d["recall"][e]
                    lines.append({"emotion": e, "condition": condition, "reference": ref, "verdict": delta["verdict"]
                                  if delta.get("ci_low") is not None else None,
                                  "text": verdict_text(f"{e} recall", condition, ref, delta)})
    return lines
