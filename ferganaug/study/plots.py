"""The study's figures: per-class recall deltas against baseline, and summed confusion matrices."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display
import matplotlib.pyplot as plt
import numpy as np

from classifiers.plots import plot_confusion
from ferganaug.utils.files import atomic_write_bytes

RECALL_DELTAS_PNG = "recall_deltas.png"


def confusion_png(condition: str) -> str:
    return f"confusion_{condition}.png"


def plot_recall_deltas(results: dict, path: str | Path) -> bool:
    """Grouped bars: one group per condition, one bar per class, height = mean paired recall
    delta against baseline in points, error bar = its 95% interval over seeds (none with one
    seed). Returns False (and draws nothing) when there is nothing to compare."""
    deltas = results["deltas"]["vs_baseline"]["conditions"]
    names = results["study"]["class_names"]
    groups = [c for c, d in deltas.items() if d.get("recall")]
    if not groups:
        return False
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(groups) + 2), 4.2))
    colours = plt.get_cmap("tab10")
    for k, name in enumerate(names):
        x = np.arange(len(groups)) + (k - (len(names) - 1) / 2) * width
        mean, low, high = [], [], []
        for g in groups:
            d = deltas[g]["recall"].get(name)
            m = np.nan if d is None else 100 * d["mean_delta"]
            mean.append(m)
            has_ci = d is not None and d.get("ci_low") is not None
            # A recall delta lies in [-100, 100] points; a wide t-interval is clipped to that range.
            low.append(m - max(-100.0, 100 * d["ci_low"]) if has_ci else 0.0)
            high.append(min(100.0, 100 * d["ci_high"]) - m if has_ci else 0.0)
        ax.bar(x, mean, width, yerr=[low, high], capsize=2, label=name, color=colours(k % 10))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(groups)), groups, rotation=15, ha="right")
    ax.set(xlabel="condition", ylabel="recall delta vs baseline (points)",
           title=f"per-class recall vs baseline, paired over seeds\n(error bars: {results['confidence']:.0%} CI, "
                 "clipped to +-100)")  # two lines: one overflows the narrowest figure
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, title="class", title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")  # keeps the legend beside the axes
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return True


def plot_confusions(results: dict, folder: str | Path) -> list[Path]:
    """confusion_<condition>.png per condition: the confusion matrices of all its seeds summed."""
    written = []
    for condition, summary in results["conditions"].items():
        path = Path(folder) / confusion_png(condition)
        seeds = len(summary["seeds"])
        plot_confusion(summary["confusion_sum"], results["study"]["class_names"], path,
                       title=f"{condition}: test confusion summed over {seeds} seed{'s' if seeds != 1 else ''}")
        written.append(path)
    return written
