"""Loss curves of a GAN run, from its stats.jsonl."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_PANELS = (  # (title, y-axis label, stats keys)
    ("adversarial", "loss", ("loss_d", "g_adv")),
    ("generator terms", "loss", ("g_fm", "g_expr", "g_cycle", "g_id", "g_mask", "g_change", "g_smooth")),
    ("discriminator accuracy / expression accuracy", "fraction", ("d_acc_real", "d_acc_fake", "d_acc_mismatch", "expr_acc", "mask_area")),
)


def plot_gan_losses(stats: list[dict], path: str | Path) -> None:
    steps = [s["step"] for s in stats]
    fig, axes = plt.subplots(1, len(_PANELS), figsize=(5 * len(_PANELS), 3.6))
    for ax, (title, ylabel, keys) in zip(axes, _PANELS):
        for key in keys:
            if stats and key in stats[0]:
                ax.plot(steps, [s[key] for s in stats], label=key)
        ax.set(title=title, xlabel="step", ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
