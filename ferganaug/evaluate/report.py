"""The evaluation for people: a terminal table, ``metrics.json`` and the ``metrics.png`` sheet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ferganaug.utils.files import atomic_write_json

if TYPE_CHECKING:  # the sheet's type only: measure.py loads torch and the classifiers
    from ferganaug.evaluate.measure import SampleGrid

METRICS_JSON = "metrics.json"
METRICS_PNG = "metrics.png"
CHANGES_PNG = "changes.png"  # built-in data only: the change drawn beside the true change


def _pct(v) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _num(v, fmt: str = ".3g") -> str:
    return "-" if v is None else format(v, fmt)


def _two_sample(result: dict) -> str:
    if result["accuracy"] is None:
        return "-"
    return f"{_pct(result['accuracy'])} ({result['low'] * 100:.0f}-{result['high'] * 100:.0f})"


def format_generator_report(report: dict) -> str:
    """A table with one row per target emotion, the reasons for any missing distance, and
    summary lines (works for generator and synthetic-folder reports)."""
    rows = report["per_emotion"]
    lines = _table_lines(rows) + _missing_lines(rows) + _read_as_lines(rows) + _summary_lines(report)
    return "\n".join(lines)


def _table_lines(rows: dict[str, dict]) -> list[str]:
    """One row per target emotion; optional columns only when some row has their measure."""
    columns = [
        ("target", 9, lambda e, r: e),
        ("n", 6, lambda e, r: str(r["n"])),
        ("n test", 7, lambda e, r: str(r["n_sets"]["real_test"])),
        ("hit rate", 9, lambda e, r: _pct(r["hit_rate"])),
        ("real recall", 12, lambda e, r: _pct(r["evaluator_recall_on_real"])),
        ("KID", 9, lambda e, r: _num(r["kid"]["value"])),
        ("KID floor", 10, lambda e, r: _num(r["kid"]["floor"])),
        ("FID", 8, lambda e, r: _num(r["fid"]["value"])),
        ("FID floor", 10, lambda e, r: _num(r["fid"]["floor"])),
    ]
    if any("two_sample" in r for r in rows.values()):  # absent when skipped (--no-two-sample)
        columns.append(("2-sample (95% CI)", 18, lambda e, r: _two_sample(r["two_sample"])))
    columns.append(("pixel chg", 10, lambda e, r: _num(r["pixel_change"], ".2f")))
    if any("mask_area" in r for r in rows.values()):
        columns.append(("mask", 7, lambda e, r: _pct(r.get("mask_area"))))
    if any("mae_vs_truth" in r for r in rows.values()):
        columns += [("truth hit", 10, lambda e, r: _pct(r.get("truth_hit_rate"))),
                    ("MAE truth", 10, lambda e, r: _num(r.get("mae_vs_truth"), ".2f")),
                    ("MAE source", 11, lambda e, r: _num(r.get("mae_source_vs_truth"), ".2f")),
                    ("MAE off chg", 12, lambda e, r: _num(r.get("mae_vs_truth_off_change"), ".2f")),
                    ("chg cosine", 11, lambda e, r: _num(r.get("change_cosine"), ".2f"))]
    lines = [" ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w, _) in enumerate(columns))]
    for emotion, r in rows.items():
        lines.append(" ".join(f"{f(emotion, r):<{w}}" if i == 0 else f"{f(emotion, r):>{w}}"
                              for i, (_, w, f) in enumerate(columns)))
    return lines


def _missing_lines(rows: dict[str, dict]) -> list[str]:
    """Why a distance or the two-sample test is missing, with the emotions it is missing for."""
    missing: dict[str, list[str]] = {}
    for metric in ("kid", "fid"):
        for key, what in (("reason", ""), ("floor_reason", " floor")):
            for emotion, r in rows.items():
                if r[metric][key]:
                    missing.setdefault(f"{metric.upper()}{what} ({r[metric][key]})", []).append(emotion)
    for emotion, r in rows.items():
        if r.get("two_sample", {}).get("reason"):
            missing.setdefault(f"two-sample test ({r['two_sample']['reason']})", []).append(emotion)
    return [f"- {why}: {', '.join(emotions)}" for why, emotions in missing.items()]


def _read_as_lines(rows: dict[str, dict]) -> list[str]:
    """What each target's faces are read as: the evaluator's three most frequent answers."""
    lines = []
    for emotion, r in rows.items():
        if r.get("read_as"):
            top = sorted(r["read_as"].items(), key=lambda item: -item[1])[:3]
            lines.append(f"{emotion} faces read as: " + ", ".join(f"{name} {_pct(p)}" for name, p in top if p > 0))
    return lines


def _summary_lines(report: dict) -> list[str]:
    rows, s = report["per_emotion"], report["summary"]
    ev = s["evaluator"]
    if report.get("kind") == "synthetic":
        what = f"{sum(r['n'] for r in rows.values())} of {s['n_synthetic']} synthetic faces"
    else:
        what = f"edits of {s['n_sources']} {s['sources_split']} sources"
    lines = [f"mean target hit rate {_pct(s['mean_hit_rate'])} over {what} (evaluator {ev['model']}, "
             f"real test accuracy {_pct(ev['real_test_accuracy'])}, mean real recall "
             f"{_pct(s['mean_evaluator_recall_on_real'])})"]
    if s.get("mean_kid") is not None:
        lines.append(f"mean KID {s['mean_kid']:.3g} vs {s['mean_kid_floor']:.3g} for real train vs test "
                     f"({s['n_emotions_with_kid']} emotions; {s['feature_space']})")
    if s.get("mean_two_sample_accuracy") is not None:
        lines.append(f"mean two-sample accuracy {_pct(s['mean_two_sample_accuracy'])} ({s['n_emotions_with_two_sample']} "
                     "emotions): a small CNN telling synthetic from real training faces, scored on held-out ones "
                     "(50%: indistinguishable)")
    if s.get("mean_pixel_change") is not None:
        mask = f", mean mask area {_pct(s['mean_mask_area'])}" if s.get("mean_mask_area") is not None else ""
        lines.append(f"mean grey-level change from the source {s['mean_pixel_change']:.2f}{mask}")
    if s.get("mae_reduction") is not None:
        lines.append(f"pixel MAE vs ground truth {s['mae_vs_truth']:.2f} vs {s['mae_source_vs_truth']:.2f} for the "
                     f"unchanged source (reduction {s['mae_reduction'] * 100:.1f}%)")
        if s.get("mean_change_cosine") is not None:
            lines.append(f"of that error, {s['mae_vs_truth_off_change']:.2f} falls on pixels the true change "
                         f"leaves alone; mean cosine between the change drawn and the true change "
                         f"{s['mean_change_cosine']:.2f}")
    if s.get("mean_truth_hit_rate") is not None:
        lines.append(f"the ground-truth renders of the same edits reach a mean hit rate of "
                     f"{_pct(s['mean_truth_hit_rate'])} with this evaluator (a perfectly faithful generator's score)")
    if s.get("note"):
        lines.append(f"note: {s['note']}")
    return lines


def write_metrics(report: dict, out_dir: str | Path, grid: SampleGrid | None = None) -> tuple[Path, Path]:
    """Write ``metrics.json`` and the ``metrics.png`` sheet into ``out_dir``; returns both paths.
    When the grid has true renders (a generator on built-in data) also ``changes.png``; an
    older one is removed otherwise, so the folder never shows another evaluation's changes."""
    from ferganaug.evaluate.plots import plot_changes, plot_metrics  # matplotlib only when a sheet is drawn

    out_dir = Path(out_dir)
    atomic_write_json(out_dir / METRICS_JSON, report)
    plot_metrics(report, grid, out_dir / METRICS_PNG)
    if grid is not None and grid.truths is not None:
        plot_changes(report, grid, out_dir / CHANGES_PNG)
    else:
        (out_dir / CHANGES_PNG).unlink(missing_ok=True)
    return out_dir / METRICS_JSON, out_dir / METRICS_PNG
