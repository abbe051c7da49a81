"""PNG figures for a run: learning curves and the confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_curves(stats: list[dict], path: str | Path) -> None:
    """Loss and accuracy per epoch, train beside validation."""
    epochs = [s["epoch"] for s in stats]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(epochs, [s["train_loss"] for s in stats], label="train")
    ax_loss.plot(epochs, [s["val_loss"] for s in stats], label="val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.plot(epochs, [100 * s["train_acc"] for s in stats], label="train")
    ax_acc.plot(epochs, [100 * s["val_acc"] for s in stats], label="val")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(confusion: Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path, title: str = "") -> None:
    """Row-normalised confusion matrix (recall on the diagonal) annotated with counts."""
    cm = np.asarray(confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix (row-normalised)")
    for i in ticks:
        for j in ticks:
            colour = "white" if norm[i, j] > 0.6 else "black"
            ax.text(j, i, f"{norm[i, j]:.2f}\n{int(cm[i, j])}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
