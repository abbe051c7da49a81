#!/usr/bin/env python
"""What a GAN run's discriminator knows about expression, read off its per-emotion maps.

    python scripts/discriminator_expression.py runs/gan/00000-gan-fer2013 [more runs ...] \
        --data ../shared/data/fer2013/fer2013.csv.gz --split test

The PatchGAN judges a face at the map of one emotion. If that map only learned "real face or
edit", real faces of every emotion score alike there, and the adversarial loss can teach the
generator realism but not the expression: only the frozen classifier can. If it learned the
expression, real faces of that emotion score above real faces of the others. For each emotion
this prints the ROC AUC, over real faces of the split, of the emotion's mean patch score
(that emotion's faces against all the others; 50: no expression knowledge), the same for the
score minus the mean over all maps, and how often the highest-scoring map is the face's own
emotion. It reads each run's last training checkpoint; nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ferganaug.data import SPLITS, FaceDataset, load_dataset
from ferganaug.data.augment import to_model_input
from ferganaug.emotions import EMOTIONS
from ferganaug.engine.checkpoint import load_checkpoint
from ferganaug.gan.networks import PatchDiscriminator
from ferganaug.gan.train import GAN_STATE_KIND
from ferganaug.measure.ranking import roc_auc

MAX_FACES = 6000  # a seeded subsample of larger splits, every face of the rarest emotion kept


def load_discriminator(run_dir: str | Path) -> tuple[PatchDiscriminator, int]:
    """The run's discriminator from checkpoints/last.pt, and the step it was saved at."""
    state = load_checkpoint(Path(run_dir) / "checkpoints" / "last.pt", (GAN_STATE_KIND,), expected="a GAN training checkpoint")
    discriminator = PatchDiscriminator(len(EMOTIONS), state["config"]["d_width"])
    discriminator.load_state_dict(state["discriminator"])
    return discriminator.eval(), state["step"]


def probe_faces(data: FaceDataset, split: str, seed: int = 0) -> FaceDataset:
    """The split's real faces, at most about MAX_FACES of them."""
    faces = data.split(split)
    if len(faces) <= MAX_FACES:
        return faces
    counts = faces.labels.bincount(minlength=len(EMOTIONS))
    rarest = counts.masked_fill(counts == 0, len(faces)).argmin()
    order = torch.randperm(len(faces), generator=torch.Generator().manual_seed(seed))
    keep = torch.cat([(faces.labels == rarest).nonzero().flatten(), order[:MAX_FACES]]).unique()
    return faces.subset(keep)


@torch.no_grad()
def map_scores(discriminator: PatchDiscriminator, faces: FaceDataset, batch: int = 512) -> torch.Tensor:
    """Mean patch score of every face at every emotion's map: [N, E]."""
    columns = []
    for emotion in range(len(EMOTIONS)):
        scores = []
        for start in range(0, len(faces), batch):
            x = to_model_input(faces.images[start:start + batch])
            scores.append(discriminator(x, torch.full((len(x),), emotion))[0].mean(dim=(1, 2)))
        columns.append(torch.cat(scores))
    return torch.stack(columns, dim=1)


def report(scores: torch.Tensor, labels: torch.Tensor) -> list[str]:
    lines = [f"  {'emotion':9s} {'faces':>6s} {'AUC map':>8s} {'AUC map - mean':>15s}"]
    for index, emotion in enumerate(EMOTIONS):
        positives = labels == index
        if not positives.any():
            continue
        own = roc_auc(scores[:, index], positives)
        relative = roc_auc(scores[:, index] - scores.mean(dim=1), positives)
        lines.append(f"  {emotion:9s} {int(positives.sum()):6d} {100 * own:8.1f} {100 * relative:15.1f}")
    lines.append(f"  own map highest: {100 * (scores.argmax(dim=1) == labels).float().mean():.1f}% "
                 f"(chance {100 / len(EMOTIONS):.1f}%)")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="GAN run folders (with checkpoints/last.pt)")
    parser.add_argument("--data", required=True, help="dataset spec whose real faces are scored")
    parser.add_argument("--split", default="test", choices=SPLITS)
    args = parser.parse_args(argv)
    faces = probe_faces(load_dataset(args.data), args.split)
    for run in args.runs:
        discriminator, step = load_discriminator(run)
        print(f"{run} (step {step}), {len(faces)} real {args.split} faces")
        print("\n".join(report(map_scores(discriminator, faces), faces.labels)))


if __name__ == "__main__":
    main()
