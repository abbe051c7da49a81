"""The study for people: results.json, report.md, the figures, and a terminal summary.

:func:`write_report` needs only study.json and the finished cells' cell.json and
log_probs.npz, so ``fergan study --report-only STUDY_DIR`` rebuilds everything without
training (a cell that finished without log_probs.npz gets one predicted from its model.pt).
Cells not finished yet are left out and listed as missing.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

from ferganaug.study.aggregate import CLASS_METRICS, aggregate
from ferganaug.study.plan import CELL_JSON, INVOCATIONS, load_study
from ferganaug.study.ranking import SCORE_LABELS
from ferganaug.study.reuse import REUSED, reused_from
from ferganaug.study.plots import RECALL_DELTAS_PNG, plot_confusions, plot_recall_deltas
from ferganaug.study.shift import SUFFIX, attach_log_probs
from ferganaug.utils.files import atomic_write_json, atomic_write_text, read_jsonl

RESULTS_JSON = "results.json"
REPORT_MD = "report.md"


def load_cells(study_dir: str | Path, study: dict) -> list[dict]:
    """The cell.json of every finished cell, in plan order."""
    cells = []
    for cell in study["cells"]:
        path = Path(study_dir) / cell["path"] / CELL_JSON
        if path.is_file():
            cells.append(json.loads(path.read_text()))
    return cells


def write_report(study_dir: str | Path, n_boot: int | None = None) -> dict:
    """Aggregate the finished cells and write results.json, report.md and the PNGs."""
    study_dir = Path(study_dir)
    study = load_study(study_dir)
    cells = load_cells(study_dir, study)
    attach_log_probs(study_dir, study, cells)  # for the shifted views and the ranking scores
    results = _finite(aggregate(study, cells, n_boot or study["config"]["n_boot"]))
    invocations = read_jsonl(study_dir / INVOCATIONS)
    results["time"]["study_wall_seconds"] = float(sum(r.get("seconds", 0.0) for r in invocations))
    results["time"]["invocations"] = len(invocations)
    results["cells"]["reused_from"] = reused_from(study_dir)
    results["figures"] = []
    if cells:
        if plot_recall_deltas(results, study_dir / RECALL_DELTAS_PNG):
            results["figures"].append(RECALL_DELTAS_PNG)
        results["figures"] += [p.name for p in plot_confusions(results, study_dir)]
    atomic_write_json(study_dir / RESULTS_JSON, results)
    atomic_write_text(study_dir / REPORT_MD, format_markdown(results, study))
    return results


def _finite(obj):
    """NaN (a score undefined on these items) becomes null: results.json stays strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


# -- formatting ------------------------------------------------------------------------------

def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x * 100:.{digits}f}"


def _signed(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.1f}"


def _mean_std(s: dict | None) -> str:
    return "-" if s is None else f"{_pct(s['mean'])} ± {_pct(s['std'])}"


def _with_ci(s: dict | None) -> str:
    if s is None:
        return "-"
    ci = f" [{_pct(s['ci_low'])}, {_pct(s['ci_high'])}]" if s["ci_low"] is not None else ""
    return _mean_std(s) + ci


def _delta(d: dict | None) -> str:
    if d is None:
        return "-"
    if d.get("ci_low") is None:
        return f"{_signed(d['mean_delta'])} (no CI)"
    return f"{_signed(d['mean_delta'])} [{_signed(d['ci_low'])}, {_signed(d['ci_high'])}] {d['verdict']}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"] + [
        "| " + " | ".join(r) + " |" for r in rows]


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h {m:02d}m {s:02d}s" if hours else f"{m}m {s:02d}s"


def _class_table(results: dict, view: str, metric: str) -> list[str]:
    names = results["study"]["class_names"]
    rows = []
    for condition, summary in results["conditions"].items():
        per_class = summary["views"][view]["per_class"]
        rows.append([condition] + [_with_ci(per_class[n][metric]) for n in names])
    return _table(["condition"] + names, rows)


def _delta_table(results: dict, key: str) -> list[str]:
    names = results["study"]["class_names"]
    rows = []
    for condition, d in results["deltas"][key]["conditions"].items():
        rows.append([condition] + [_delta(d.get(k)) for k in ("macro_f1", "accuracy", "leak_free_accuracy")]
                    + [_delta(d.get("recall", {}).get(n)) for n in names])
    return _table(["condition", "macro-F1", "accuracy", "leak-free acc."] + [f"{n} recall" for n in names], rows)


def _reused_line(reused: dict[str, str]) -> list[str]:
    if not reused:
        return []
    donors = sorted({str(Path(source).parents[2]) for source in reused.values()})
    return [f"- cells copied from other studies (same experiment, not retrained): {len(reused)}, from "
            + ", ".join(f"`{d}`" for d in donors) + f" ({REUSED})"]


def format_markdown(results: dict, study: dict) -> str:
    """report.md: verdicts first, then the tables they rest on, then how the numbers were made."""
    lines = _header_section(results, study) + _verdict_section(results) + _synthetic_added_section(results)
    lines += _shift_section(results)
    lines += _ranking_section(results)
    lines += _per_class_sections(results) + _delta_sections(results) + _method_section(results)
    return "\n".join(lines)


def _header_section(results: dict, study: dict) -> list[str]:
    s = results["study"]
    return [
        f"# Augmentation study: {s['model']} on {s['data']}",
        "",
        f"- command: `{shlex.join(study.get('command') or study['argv'])}`",
        f"- created {study['created']} on {study['machine']}",
        f"- {len(s['seeds'])} seed(s) {s['seeds']}, {s['epochs']} epoch(s), chosen emotion(s): {', '.join(s['emotions'])}"
        + (f", synthetic faces from `{s['synthetic']}`" if s["synthetic"] else ""),
        *([f"- recipe: the `{s['preset']}` classifier preset under the budget above"] if s.get("preset") else []),
        *_share_line(s),
        *_weight_line(s),
        f"- cells finished: {results['cells']['finished']} of {results['cells']['planned']}"
        + (f" (missing: {', '.join(results['cells']['missing'])})" if results["cells"]["missing"] else ""),
        *_reused_line(results["cells"].get("reused_from") or {}),
        (f"- wall time: {_duration(results['time']['study_wall_seconds'])} over {results['time']['invocations']} "
        f"run(s); training time summed over cells {_duration(results['time']['train_seconds'])}"),
    ]


def _verdict_section(results: dict) -> list[str]:
    lines = [
        "",
        "## Verdicts",
        "",
        (f"Deltas are in percentage points, paired seed by seed, with the {results['confidence']:.0%} t-interval of "
        "the mean delta; helped/hurt means the whole interval lies above/below zero."),
        "",
    ]
    lines += [f"- {v['text']}" for v in results["verdicts"]] or ["- (nothing to compare yet)"]
    best = results["best_rebalancing"]
    lines += ["", f"Best rebalancing condition: **{best['condition'] or 'none'}** ({best['why']})."]
    if results["verdicts_per_metric"]:
        lines += ["", "Against the best condition without synthetic faces, metric by metric:", ""]
        lines += [f"- {v['text']}" for v in results["verdicts_per_metric"]]
    return lines


def _synthetic_added_section(results: dict) -> list[str]:
    """How many synthetic faces each synthetic condition asked for, planned and added per seed."""
    if not results["synthetic_plan"]:
        return []
    rows = []
    for condition, summary in results["conditions"].items():
        if summary["synthetic_added"] is None or condition.endswith(SUFFIX):
            continue
        plan = results["synthetic_plan"].get(condition.split("@")[1], {})
        for e, added in summary["synthetic_added"].items():
            rows.append([condition, e, str(plan.get("wanted", {}).get(e, "-")),
                         str(plan.get("planned", {}).get(e, "-")), ", ".join(map(str, added))])
    return ["", "## Synthetic faces added", ""] + _table(
        ["condition", "emotion", "wanted", "planned (≤ in folder)", "added per seed"], rows)


def _per_class_sections(results: dict) -> list[str]:
    """Overall scores, then per-class tables of the test split and of its leak-free view."""
    conf = f"{results['confidence']:.0%}"
    lines = ["", "## Overall (test split)", ""]
    rows = [[c, _with_ci(v["views"]["test"]["macro_f1"]), _with_ci(v["views"]["test"]["accuracy"]),
             _with_ci(v["views"]["leak_free"]["macro_f1"]), _with_ci(v["views"]["leak_free"]["accuracy"]),
             str(len(v["seeds"]))] for c, v in results["conditions"].items()]
    lines += _table(["condition", "macro-F1", "accuracy", "leak-free macro-F1", "leak-free accuracy", "seeds"], rows)
    for view, title in (("test", "test split"), ("leak_free", "leak-free view of the test split")):
        n = next(iter(results["conditions"].values()))["views"][view]["n"] if results["conditions"] else 0
        # Precision and F1 of the leak-free view are in results.json; the report keeps to recall there.
        for metric in CLASS_METRICS if view == "test" else ("recall",):
            lines += ["", f"## Per-class {metric}, {title} (n={n}): mean ± std [{conf} CI over seeds], %", ""]
            lines += _class_table(results, view, metric)
        lines += ["", f"Bootstrap {conf} interval over test items of the seed-mean recall, {title}, %:", ""]
        names = results["study"]["class_names"]
        rows = [[c] + [_boot(v["views"][view]["per_class"][x]) for x in names] for c, v in results["conditions"].items()]
        lines += _table(["condition"] + names, rows)
    return lines


def _delta_sections(results: dict) -> list[str]:
    """Paired deltas against baseline and the best rebalancing, by seed and by test item."""
    best = results["best_rebalancing"]
    lines = ["", "## Deltas vs baseline (points, paired by seed)", ""]
    lines += _delta_table(results, "vs_baseline") if results["deltas"]["vs_baseline"]["reference"] else [
        "baseline was not run."]
    lines += ["", f"## Deltas vs the best rebalancing condition ({best['condition'] or 'none run'})", ""]
    lines += _delta_table(results, "vs_best_rebalancing") if best["condition"] else ["no rebalancing condition run."]
    boot = results["item_bootstrap"]
    lines += ["", f"## Paired bootstrap over test items: {boot['metric']}", ""]
    rows = []
    for key in ("vs_baseline", "vs_best_rebalancing"):
        for condition, r in boot[key]["conditions"].items():
            ci = f"[{_signed(r['ci_low'])}, {_signed(r['ci_high'])}]" if r["ci_low"] is not None else "-"
            rows.append([condition, boot[key]["reference"], _signed(r["delta"]), ci, r["verdict"]])
    conf = f"{results['confidence']:.0%}"
    lines += _table(["condition", "against", "delta (points)", f"{conf} CI", "verdict"], rows) if rows else ["-"]
    return lines


def _method_section(results: dict) -> list[str]:
    conf = f"{results['confidence']:.0%}"
    return [
        "", "## How the numbers were made", "",
        ("- Every condition trains the same recipe with the same seeds; only class weights (inverse frequency), "
        "the class-balanced sampler, the logit adjustment (logit-adjust: cross-entropy on logits + log(class prior) "
        "in training, plain logits in prediction) or the added synthetic faces differ. Synthetic faces join the "
        "training split only and were made from training faces of the same data (checked row by row in "
        "manifest.jsonl)."),
        ("- Best rebalancing: of class-weights, oversample and logit-adjust (those run), the one with the highest "
        "mean test macro-F1; every delta against it is paired seed by seed. Metric by metric, the best condition "
        "without synthetic faces is the one with the highest mean of that metric."),
        *_shift_method(results["study"]),
        ("- A delta within noise says how many paired seeds would separate a change of its size if its mean and "
        "seed-to-seed spread held: the fewest n with t(n-1) x std / sqrt(n) below the mean delta."),
        "- Leak-free view: the test split without faces that are pixel copies of training faces.",
        f"- Mean ± std over seeds (ddof=1); [..] is the Student-t {conf} interval of the mean over seeds.",
        (f"- Bootstrap over test items ({results['n_boot']} resamples): every resample draws the same test items for "
        "all seeds, and the interval is that of the seed-mean recall: how much it would move on another test set."),
        ("- Paired deltas compare seed i with seed i of the reference; with one seed there is no interval and "
        "no verdict."),
        "",
        "Figures: " + (", ".join(f"`{f}`" for f in results["figures"]) or "none"),
        "",
    ]


def _share_line(s: dict) -> list[str]:
    share = s.get("synthetic_share")
    if share is None:
        return []
    lines = [f"- synthetic+oversample: emotions drawn uniformly; within an emotion with synthetic faces, a draw is "
             f"synthetic with probability {share:g} (--synthetic-share)"]
    finish = s.get("real_finish_epochs", 0)
    if finish:
        epochs = "epoch" if finish == 1 else f"{finish} epochs"
        lines.append(f"- synthetic+oversample: the last {epochs} drew real faces only (--real-finish-epochs)")
    return lines


def _weight_line(s: dict) -> list[str]:
    weight = s.get("synthetic_weight")
    if weight is None or weight == 1.0:
        return []
    return [f"- synthetic faces: each one's loss term weighs {weight:g}, a real face's 1 (--synthetic-weight)"]


def _ranking_section(results: dict) -> list[str]:
    """Each condition's ranking of the chosen emotions' test faces, and its change against the
    best rebalancing condition's models."""
    ranking = results.get("ranking") or {}
    if not ranking.get("scores"):
        return []
    reference = ranking["vs_best_rebalancing"]["reference"]
    deltas = ranking["vs_best_rebalancing"]["conditions"]
    names = list(SCORE_LABELS)
    rows = []
    for condition, by_emotion in ranking["scores"].items():
        for emotion, scores in by_emotion.items():
            change = deltas.get(condition, {}).get(emotion, {})
            rows.append([condition, emotion, *(_mean_std(scores[n]) for n in names),
                         *(_delta(change.get(n)) for n in names)])
    against = f"against {reference}" if reference else "against the best rebalancing"
    return ["", "## Ranking (threshold-free)", "",
            "How each condition's models rank the chosen emotion's test faces above the others: ROC AUC, "
            "average precision (the area under the precision-recall curve) and R-precision (the share of the "
            "emotion among as many top-ranked test faces as it has), mean ± std over seeds, %. A shifted "
            "boundary moves along this ranking and cannot change it, so these say whether a condition taught its "
            "models more about the emotion, apart from where their boundary sits.", "",
            *_table(["condition", "emotion", *(SCORE_LABELS[n] for n in names),
                     *(f"{SCORE_LABELS[n]} {against}" for n in names)], rows)]


def _shift_section(results: dict) -> list[str]:
    """The biases each shifted view added to the chosen emotions' log-probabilities, per seed."""
    rows = [[condition, e, ", ".join(f"{b:+.2f}" for b in biases)]
            for condition, summary in results["conditions"].items() if summary.get("shift")
            for e, biases in summary["shift"].items()]
    if not rows:
        return []
    return ["", "## Shifted boundaries", "",
            "Bias added to each chosen emotion's log-probability, chosen on the validation split per seed:", "",
            *_table(["condition", "emotion", "bias per seed"], rows)]


def _shift_method(s: dict) -> list[str]:
    if s.get("shift", "none") == "none":
        return []
    goal = "that emotion's F1" if s["shift"] == "f1" else "macro-F1"
    return [f"- `<condition>{SUFFIX}`: the same models, with each chosen emotion's decision boundary moved by a bias "
            f"on its log-probability that maximises {goal} on the validation split (the split each cell chose its "
            "epoch by), applied unchanged to the test split; a grid from -4 to +4 in steps of 0.05, the bias nearest "
            "0 among equals. A tuned boundary is a rebalancer that costs nothing, so the shifted views of baseline "
            "and the rebalancing conditions compete for 'best rebalancing'. `fer-classify shift RUN --data SPEC "
            "--emotion E` gives a trained model the same boundary."]


def _boot(entry: dict) -> str:
    ci = entry.get("recall_bootstrap_ci")
    return "-" if not ci or ci[0] is None else f"[{_pct(ci[0])}, {_pct(ci[1])}]"


def format_summary(results: dict) -> str:
    """A short terminal table: per condition macro-F1, accuracy and each chosen emotion's
    recall, then the verdict lines."""
    emotions = results["study"]["emotions"]
    vs_base = results["deltas"]["vs_baseline"]["conditions"]
    width = max([len("condition")] + [len(c) for c in results["conditions"]])
    head = f"{'condition':<{width}}  {'macro-F1':>13}  {'accuracy':>13}" + "".join(
        f"  {e + ' recall':>16}  {'vs baseline':>13}" for e in emotions)
    lines = [head, "-" * len(head)]
    for condition, summary in results["conditions"].items():
        test = summary["views"]["test"]
        row = f"{condition:<{width}}  {_mean_std(test['macro_f1']):>13}  {_mean_std(test['accuracy']):>13}"
        for e in emotions:
            d = vs_base.get(condition, {}).get("recall", {}).get(e)
            row += f"  {_mean_std(test['per_class'][e]['recall']):>16}  {_signed(d['mean_delta']) if d else '':>13}"
        lines.append(row)
    lines += [""] + [v["text"] for v in results["verdicts"] + results["verdicts_per_metric"]]
    if results["cells"]["missing"]:
        lines.append(f"missing cells: {', '.join(results['cells']['missing'])}")
    return "\n".join(lines)
