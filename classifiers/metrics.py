"""Classification metrics from predictions: confusion matrix, per-class P/R/F1, macro-F1, AUC.

Pure functions of tensors, so they are easy to check by hand and reusable by the study code.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy.stats import rankdata


def confusion_matrix(targets: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows are true classes, columns predicted classes."""
    index = targets.long() * num_classes + predictions.long()
    return torch.bincount(index, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_metrics(confusion: torch.Tensor, class_names: Sequence[str]) -> dict[str, dict]:
    """precision, recall, f1 and support per class; 0.0 where a ratio has an empty denominator."""
    cm = confusion.double()
    true_pos = cm.diag()
    support = cm.sum(dim=1)
    predicted = cm.sum(dim=0)
    precision = torch.where(predicted > 0, true_pos / predicted.clamp(min=1), torch.zeros_like(true_pos))
    recall = torch.where(support > 0, true_pos / support.clamp(min=1), torch.zeros_like(true_pos))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(denom))
    return {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }


def one_vs_rest_auc(targets: torch.Tensor, scores: torch.Tensor) -> list[float | None]:
    """ROC AUC per class (Mann-Whitney U with tie-aware ranks); None for a class with no
    positives or no negatives, where AUC is undefined."""
    y = targets.cpu().numpy()
    s = scores.detach().float().cpu().numpy()
    aucs: list[float | None] = []
    for c in range(s.shape[1]):
        positive = y == c
        n_pos, n_neg = int(positive.sum()), int((~positive).sum())
        if n_pos == 0 or n_neg == 0:
            aucs.append(None)
            continue
        ranks = rankdata(s[:, c])
        u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
        aucs.append(float(u / (n_pos * n_neg)))
    return aucs


def classification_report(
    targets: torch.Tensor,
    logits: torch.Tensor,
    class_names: Sequence[str],
    loss: float | None = None,
) -> dict:
    """Everything `fer-classify evaluate --json` reports about one set of predictions."""
    num_classes = len(class_names)
    predictions = logits.argmax(dim=1)
    cm = confusion_matrix(targets, predictions, num_classes)
    per_class = per_class_metrics(cm, class_names)
    present = [m for m in per_class.values() if m["support"] > 0]
    aucs = one_vs_rest_auc(targets, torch.softmax(logits.float(), dim=1))
    for name, auc in zip(class_names, aucs):
        per_class[name]["auc"] = auc
    defined = [a for a in aucs if a is not None]
    return {
        "n": int(targets.numel()),
        "accuracy": float((predictions == targets).double().mean()) if targets.numel() else 0.0,
        "loss": loss,
        # Macro averages over classes present in the split, so an absent class does not count as 0.
        "macro_f1": float(np.mean([m["f1"] for m in present])) if present else 0.0,
        "macro_recall": float(np.mean([m["recall"] for m in present])) if present else 0.0,
        "macro_auc": float(np.mean(defined)) if defined else None,
        "per_class": per_class,
        "confusion": cm.tolist(),
        "class_names": list(class_names),
    }


def format_report(report: dict) -> str:
    """A plain-text table for the terminal."""
    lines = [
        f"accuracy {report['accuracy'] * 100:.2f}%  macro-F1 {report['macro_f1'] * 100:.2f}%"
        + (f"  loss {report['loss']:.4f}" if report.get("loss") is not None else "")
        + (f"  macro-AUC {report['macro_auc']:.4f}" if report.get("macro_auc") is not None else "")
        + f"  (n={report['n']})",
    ]
    if "leak_free" in report:
        lf = report["leak_free"]
        lines.append(
            f"leak-free accuracy {lf['accuracy'] * 100:.2f}% on {lf['n']} images "
            f"({lf['dropped']} exact copies of training images dropped)"
        )
    if "without_tta" in report:
        plain = report["without_tta"]
        lines.append(
            f"test-time augmentation {report['tta']} ({report['seconds']:.1f} s): without it accuracy "
            f"{plain['accuracy'] * 100:.2f}%, macro-F1 {plain['macro_f1'] * 100:.2f}%"
            + (f", leak-free {plain['leak_free_accuracy'] * 100:.2f}%" if plain.get("leak_free_accuracy") is not None else "")
            + f" ({plain['seconds']:.1f} s)"
        )
    lines.append(f"{'class':<10} {'precision':>9} {'recall':>7} {'f1':>7} {'auc':>7} {'support':>8}")
    for name, m in report["per_class"].items():
        auc = f"{m['auc']:.3f}" if m.get("auc") is not None else "   -"
        lines.append(
            f"{name:<10} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>7.3f} {auc:>7} {m['support']:>8}"
        )
    return "\n".join(lines)
