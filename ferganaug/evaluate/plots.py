"""The ``metrics.png`` sheet: sample faces per emotion above bar charts of hit rate vs the
evaluator's real recall, KID with its real-vs-real floor, and the change from the source.
On built-in data also ``changes.png``: where each edit changed its source beside where the
true render changes it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display
import matplotlib.pyplot as plt
import numpy as np

from ferganaug.gan.images import grid_canvas
from ferganaug.utils.files import atomic_write_bytes

if TYPE_CHECKING:  # the sheet's type only: measure.py loads torch and the classifiers
    from ferganaug.evaluate.measure import SampleGrid

_GAP = 2


def _grid_panel(ax, grid) -> None:
    rows, cols, h, w = grid.images.shape
    ax.imshow(grid_canvas(grid.images, _GAP).numpy(), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([_GAP + c * (w + _GAP) + w / 2 for c in range(cols)], grid.col_labels, fontsize=8)
    ax.set_yticks([_GAP + r * (h + _GAP) + h / 2 for r in range(rows)], grid.row_labels, fontsize=7)
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    for side in ax.spines.values():
        side.set_visible(False)


def _values(rows: list[dict], get) -> np.ndarray:
    return np.array([np.nan if get(r) is None else get(r) for r in rows], dtype=float)


def _missing(ax, x, values, text="n/a") -> None:
    for xi, v in zip(x, values):
        if np.isnan(v):
            ax.text(xi, 0, text, ha="center", va="bottom", fontsize=7, color="grey", rotation=90)


def plot_metrics(report: dict, grid: SampleGrid | None, path: str | Path) -> None:
    emotions = list(report["per_emotion"])
    rows = list(report["per_emotion"].values())
    x = np.arange(len(emotions))
    fig = plt.figure(figsize=(13, 9.5 if grid is not None else 4.5))
    spec = fig.add_gridspec(2 if grid is not None else 1, 3, height_ratios=[1.4, 1] if grid is not None else [1])
    if grid is not None:
        _grid_panel(fig.add_subplot(spec[0, :]), grid)
    bottom = 1 if grid is not None else 0
    panels = [fig.add_subplot(spec[bottom, column]) for column in range(3)]
    _hit_rate_panel(panels[0], x, rows)
    _kid_panel(panels[1], x, rows)
    ax_mask = _pixel_change_panel(panels[2], x, rows)
    for ax in panels:
        ax.set_xticks(x, emotions, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("target emotion", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    if ax_mask is not None:  # one legend on the twin, drawn last: two legends overlapped
        panels[2].get_legend().remove()
        ax_mask.legend(handles=panels[2].get_legend_handles_labels()[0] + ax_mask.get_legend_handles_labels()[0],
                       fontsize=7, loc="upper right")
    s = report["summary"]
    fig.suptitle(f"fergan evaluate ({report.get('kind', 'generator')}): mean hit rate "
                 f"{(s['mean_hit_rate'] or 0) * 100:.1f}%, evaluator {s['evaluator']['model']}", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def _hit_rate_panel(ax, x: np.ndarray, rows: list[dict]) -> None:
    hit = _values(rows, lambda r: r["hit_rate"]) * 100
    recall = _values(rows, lambda r: r["evaluator_recall_on_real"]) * 100
    ax.bar(x - 0.2, hit, 0.4, label="hit rate (synthetic)")
    ax.bar(x + 0.2, recall, 0.4, label="evaluator recall (real test)", color="grey")
    _missing(ax, x + 0.2, recall)
    ax.set(ylim=(0, 125), ylabel="%", title="target hit rate vs real recall")


def _kid_panel(ax, x: np.ndarray, rows: list[dict]) -> None:
    kid = _values(rows, lambda r: r["kid"]["value"])
    floor = _values(rows, lambda r: r["kid"]["floor"])
    ax.bar(x, kid, 0.6, label="synthetic vs real test", color="tab:orange")
    ax.hlines(floor, x - 0.35, x + 0.35, colors="black", linewidth=2, label="floor: real train vs real test")
    _missing(ax, x, kid)
    ax.set(ylabel="KID", title="KID (evaluator features)")


def _pixel_change_panel(ax, x: np.ndarray, rows: list[dict]):
    """Change from the source (and, on built-in data, the error against the true render);
    returns the twin axis of the edit mask's area when the generator has a mask, else None."""
    change = _values(rows, lambda r: r["pixel_change"])
    bars = [("change from source", change, "tab:blue")]
    if any("mae_vs_truth" in r for r in rows):
        bars += [("MAE vs ground truth", _values(rows, lambda r: r.get("mae_vs_truth")), "tab:green"),
                 ("MAE source vs ground truth", _values(rows, lambda r: r.get("mae_source_vs_truth")), "grey")]
    width = 0.8 / len(bars)
    for i, (label, values, colour) in enumerate(bars):
        ax.bar(x - 0.4 + width * (i + 0.5), values, width, label=label, color=colour)
    _missing(ax, x, change)
    top = max([np.nanmax(v) for _, v, _ in bars if not np.isnan(v).all()] or [1.0]) or 1.0
    ax.set_ylim(0, top * 1.6)  # room for the legends
    ax_mask = None
    if any("mask_area" in r for r in rows):
        ax_mask = ax.twinx()
        ax_mask.plot(x, _values(rows, lambda r: r.get("mask_area")) * 100, "k^", label="mask area (right axis)")
        ax_mask.set(ylim=(0, 100), ylabel="mask area (%)")
    ax.set(ylabel="mean |grey-level difference|", title="identity: pixel change")
    return ax_mask


CHANGE_RANGE = 40  # grey levels at the ends of the colour scale; the largest true changes reach it


def plot_changes(report: dict, grid: SampleGrid, path: str | Path) -> None:
    """Per sample source, two rows: the true change (true render minus source) and the change
    the generator drew (edit minus source), one column per target, red where a pixel got
    brighter and blue where it got darker; column titles give that target's mean cosine
    between the two changes over all evaluated sources."""
    sources = grid.images[:, 0].float()
    drawn = grid.images[:, 1:].float() - sources[:, None]
    true = grid.truths.float() - sources[:, None]
    targets = grid.col_labels[1:]
    n = len(sources)
    fig, axes = plt.subplots(2 * n, 1 + len(targets), figsize=(1.3 * (1 + len(targets)), 1.3 * 2 * n + 0.6),
                             squeeze=False, layout="constrained")
    for i in range(n):
        for row, (label, change) in enumerate((("true", true), ("drawn", drawn))):
            r = 2 * i + row
            axes[r, 0].imshow(sources[i].numpy(), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axes[r, 0].set_ylabel(f"{grid.row_labels[i]}\n{label}", fontsize=7)
            for c in range(len(targets)):
                image = axes[r, c + 1].imshow(change[i, c].numpy(), cmap="bwr", vmin=-CHANGE_RANGE, vmax=CHANGE_RANGE,
                                              interpolation="nearest")
    for c, emotion in enumerate(targets):
        cosine = report["per_emotion"].get(emotion, {}).get("change_cosine")
        axes[0, c + 1].set_title(emotion if cosine is None else f"{emotion}\ncos {cosine:.2f}", fontsize=8)
    axes[0, 0].set_title("source", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01, label="grey-level change from the source")
    fig.suptitle("change drawn vs true change (true render - source; edit - source)", fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
