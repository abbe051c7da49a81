#!/usr/bin/env python
"""Can the discriminator tell a generator's edits from real faces? A fixed-generator probe.

    python scripts/discriminator_probe.py runs/fergan/00000-gan-builtin [--steps 1500] [--data builtin]

A fresh `PatchDiscriminator` of the toolkit's design is trained with the LSGAN loss to tell
real faces of each target emotion (training split) from the generator's edits of the
training split's neutral faces, once for each view the GAN can give it: the faces as they
are, and the shifted, rotated and mirrored views of `--d-augment`. It then prints, per
target emotion, the area under the ROC curve on the test split (real test faces against
edits of neutral test faces): 50% is chance, 100% a perfect separation. A discriminator
that cannot separate the edits within the steps a GAN run gives it cannot teach the
generator what real expressions look like (docs/gan-experiments.md, session 10).
"""

from __future__ import annotations

import argparse
import time

import torch

from ferganaug.data.augment import augment_batch, to_model_input
from ferganaug.data.spec import load_dataset
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.gan.losses import lsgan_discriminator_loss
from ferganaug.gan.networks import PatchDiscriminator
from ferganaug.gan.train import CLASSIFIER_VIEWS, GANConfig
from ferganaug.synth import load_generator_file
from ferganaug.utils.hardware import describe_machine

TARGETS = [e for e in EMOTIONS if e != "neutral"]


@torch.no_grad()
def edits(generator: torch.nn.Module, faces: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every neutral face edited to every target emotion: (edits, target indices)."""
    sources = to_model_input(faces[labels == EMOTION_INDEX["neutral"]])
    out, targets = [], []
    for emotion in TARGETS:
        target = torch.full((len(sources),), EMOTION_INDEX[emotion])
        out.append(generator(sources, target)[0].clamp(-1, 1))
        targets.append(target)
    return torch.cat(out), torch.cat(targets)


def reals(faces: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    keep = labels != EMOTION_INDEX["neutral"]
    return to_model_input(faces[keep]), labels[keep]


def sample_of(labels: torch.Tensor, wanted: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One random row index of each wanted label."""
    rows = []
    for label in wanted.tolist():
        pool = torch.nonzero(labels == label)[:, 0]
        rows.append(pool[torch.randint(len(pool), (1,), generator=g)])
    return torch.cat(rows)


def roc_auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """P(score of a random positive > score of a random negative), ties counted half."""
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).float().mean() + 0.5 * (diff == 0).float().mean())


def probe(train: tuple, test: tuple, augment: bool, steps: int, width: int, seed: int) -> list[float]:
    (real_x, real_y, fake_x, fake_y), (real_tx, real_ty, fake_tx, fake_ty) = train, test
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    d = PatchDiscriminator(len(EMOTIONS), width)
    opt = torch.optim.Adam(d.parameters(), lr=GANConfig.lr_d, betas=GANConfig.betas)

    def view(x: torch.Tensor) -> torch.Tensor:
        return augment_batch((x + 1) / 2, CLASSIFIER_VIEWS, g) * 2 - 1 if augment else x

    for _ in range(steps):
        target = torch.tensor([EMOTION_INDEX[e] for e in TARGETS])[torch.randint(len(TARGETS), (16,), generator=g)]
        real, fake = real_x[sample_of(real_y, target, g)], fake_x[sample_of(fake_y, target, g)]
        loss = lsgan_discriminator_loss(d(view(real), target)[0], d(view(fake), target)[0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        real_scores = d(real_tx, real_ty)[0].mean((1, 2))
        fake_scores = d(fake_tx, fake_ty)[0].mean((1, 2))
    return [roc_auc(real_scores[real_ty == EMOTION_INDEX[e]], fake_scores[fake_ty == EMOTION_INDEX[e]]) for e in TARGETS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("generator", help="a fergan train run folder or its generator.pt")
    parser.add_argument("--data", default="builtin", help="data spec with train and test splits")
    parser.add_argument("--steps", type=int, default=1500, help="discriminator updates per view")
    parser.add_argument("--width", type=int, default=GANConfig.d_width)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(describe_machine())
    generator = load_generator_file(args.generator).model
    data = load_dataset(args.data)
    split = {name: data.split(name) for name in ("train", "test")}
    sets = {name: (*reals(s.images, s.labels), *edits(generator, s.images, s.labels)) for name, s in split.items()}
    print(f"{args.steps} steps per view, batch 16; test ROC AUC, real against edited (50% = chance)")
    print(f"{'view':28s} " + " ".join(f"{e:>8s}" for e in TARGETS) + "     mean")
    for augment in (False, True):
        start = time.perf_counter()
        aucs = probe(sets["train"], sets["test"], augment, args.steps, args.width, args.seed)
        label = "shifted/rotated/mirrored" if augment else "as they are"
        print(f"{label:28s} " + " ".join(f"{100 * a:7.1f}%" for a in aucs)
              + f" {100 * sum(aucs) / len(aucs):7.1f}%  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
