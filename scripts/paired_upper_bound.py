#!/usr/bin/env python
"""What the default generator reaches when it is told the answer: paired training on built-in faces.

    python scripts/paired_upper_bound.py --out runs/paired-upper-bound
    fergan evaluate runs/paired-upper-bound --data builtin --evaluator E.pt

`fergan train` never sees a neutral face and the same person's expression together: real data
(FER2013) has no such pairs. The built-in renderer does, so this diagnostic trains the generator
of `fergan train`'s defaults (same network, batch, steps, learning rate and EMA) with one loss
only, L1 between its edit of each training neutral face and the true render of that person with
the target expression. It writes `generator.pt` like a `fergan train` run, so `fergan evaluate`
scores it exactly as it scores a GAN. Its pixel error bounds what an unpaired loss can teach
this network within the same budget; it is a measurement, not a training mode of the toolkit.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch

from ferganaug.data.augment import to_model_input
from ferganaug.data.builtin import builtin_dataset, render_counterparts
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.gan.networks import Generator
from ferganaug.gan.train import GANConfig, ema_decay_at, generator_artifact, update_ema
from ferganaug.utils.files import atomic_torch_save
from ferganaug.utils.hardware import describe_machine
from ferganaug.utils.seeding import seed_everything

TARGETS = [e for e in EMOTIONS if e != "neutral"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for generator.pt")
    parser.add_argument("--steps", type=int, default=GANConfig.steps)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    c = GANConfig(steps=args.steps, seed=args.seed)
    print(describe_machine())

    seed_everything(c.seed)
    train = builtin_dataset().split("train")
    neutral = train.subset(train.labels == EMOTION_INDEX["neutral"])
    sources = to_model_input(neutral.images)
    truths = torch.stack([to_model_input(render_counterparts(neutral, e)) for e in TARGETS], dim=1)
    target_ids = torch.tensor([EMOTION_INDEX[e] for e in TARGETS])

    generator = Generator(len(EMOTIONS), c.g_width, c.g_res_blocks, condition="label", colour=c.colour,
                          warp=c.warp, decoder=c.g_decoder)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    opt = torch.optim.Adam(generator.parameters(), lr=c.lr_g, betas=c.betas)
    rng = torch.Generator().manual_seed(c.seed)
    start = time.perf_counter()
    for step in range(c.steps):
        rows = torch.randint(len(sources), (c.batch_size,), generator=rng)
        which = torch.randint(len(TARGETS), (c.batch_size,), generator=rng)
        edit, _ = generator(sources[rows], target_ids[which])
        loss = (edit - truths[rows, which]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        update_ema(ema, generator, ema_decay_at(step, c.ema_decay))
        if (step + 1) % 500 == 0 or step + 1 == c.steps:
            print(f"step {step + 1}/{c.steps}: L1 {loss.item():.4f} ({time.perf_counter() - start:.0f} s)", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(generator_artifact(ema, c.steps, ("neutral",)), args.out / "generator.pt")
    print(f"wrote {args.out / 'generator.pt'}; score it with: fergan evaluate {args.out} --data builtin")


if __name__ == "__main__":
    main()
