"""Write samples/builtin_faces.png: 7 identities (rows) x 7 expressions (columns).

Usage: python scripts/make_samples.py [--out samples/builtin_faces.png] [--clean]

Each row is one person with one nuisance seed, so along a row only the expression changes
(the counterpart property the GAN's edits are scored against). --clean drops the nuisance
(pose, light, noise, occluders) to show the bare prototypes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ferganaug.data.builtin import render  # noqa: E402
from ferganaug.emotions import EMOTIONS  # noqa: E402

IDENTITIES = (3, 11, 24, 7, 40, 52, 16)
INTENSITY = 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(__file__).resolve().parents[1] / "samples" / "builtin_faces.png"
    parser.add_argument("--out", type=Path, default=default_out, help=f"PNG to write (default {default_out.name})")
    parser.add_argument("--clean", action="store_true", help="no pose, light, noise or occluder")
    args = parser.parse_args()

    rows, cols = len(IDENTITIES), len(EMOTIONS)
    ids = torch.tensor(IDENTITIES).repeat_interleave(cols)
    emotions = torch.arange(cols).repeat(rows)
    seeds = torch.arange(rows).repeat_interleave(cols) + 7  # one seed per row: same pose and light
    faces = render(ids, emotions, INTENSITY, seeds, nuisance=not args.clean)

    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.1 + 0.3))
    for k, ax in enumerate(axes.flat):
        ax.imshow(faces[k, 0].numpy(), cmap="gray", vmin=0, vmax=255, interpolation="bicubic")
        ax.set_xticks([])
        ax.set_yticks([])
        if k < cols:
            ax.set_title(EMOTIONS[k], fontsize=9)
        if k % cols == 0:
            ax.set_ylabel(f"id {IDENTITIES[k // cols]}", fontsize=8)
    fig.subplots_adjust(left=0.05, right=0.99, top=0.95, bottom=0.01, wspace=0.04, hspace=0.04)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100, pil_kwargs={"optimize": True})
    print(args.out)


if __name__ == "__main__":
    main()
