"""How low can the built-in pixel-error target go? An oracle edit for every neutral test face.

`fergan evaluate` scores an edit against the ground-truth render: same person, pose, light,
noise and expression strength, target emotion. The strength is drawn at random per face
(0.25 to 1) and a neutral face does not show it, so no generator can know it. This script
scores the best a generator could do without it: the true render at one fixed strength for
every face. It prints that error beside the error of returning the source unchanged.

    python scripts/truth_oracle.py [--strengths 0.4,0.625,1.0]
"""

from __future__ import annotations

import click
import torch

from ferganaug.data.builtin import builtin_dataset, render_counterparts
from ferganaug.data.builtin.render import render
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS


@click.command()
@click.option("--strengths", default="0.4,0.5,0.625,0.75,1.0", help="Fixed expression strengths to try.")
def main(strengths: str) -> None:
    test = builtin_dataset().split("test")  # the set `fergan evaluate` edits on built-in data
    sources = test.subset(test.labels == EMOTION_INDEX["neutral"])
    targets = [e for e in EMOTIONS if e != "neutral"]
    truths = {e: render_counterparts(sources, e).float() for e in targets}

    def mean_error(edits: dict[str, torch.Tensor]) -> tuple[float, list[float]]:
        per = [float((edits[e].float() - truths[e]).abs().mean()) for e in targets]
        return sum(per) / len(per), per

    click.echo(f"{len(sources)} neutral test faces; targets {', '.join(targets)}")
    base, per = mean_error({e: sources.images for e in targets})
    click.echo(f"source unchanged: MAE {base:.3f}  (" + " ".join(f"{x:.2f}" for x in per) + ")")
    for strength in (float(s) for s in strengths.split(",")):
        n = len(sources)
        edits = {e: render(sources.identities, e, torch.full((n,), strength), sources.info["nuisance_seeds"])
                 for e in targets}
        mae, per = mean_error(edits)
        click.echo(f"true render at strength {strength}: MAE {mae:.3f}  (" + " ".join(f"{x:.2f}" for x in per) + ")")


if __name__ == "__main__":
    main()
