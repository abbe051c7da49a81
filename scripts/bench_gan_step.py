#!/usr/bin/env python
"""GAN training throughput of the two generator decoders, side by side in one run.

    python scripts/bench_gan_step.py [--steps 30] [--batch-size 16] [--precision bf16]

Each layout runs the same full `fergan train` step (generator, discriminator, frozen deep-cnn
classifier, every default loss term) on built-in faces; the rounds alternate the two layouts so
that a burst of load on the shared cores hits both. Prints the CPU model and flags beside the
ratio, because the fastest numeric path depends on the CPU.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

from classifiers.registry import create_model
from ferganaug.data.builtin import builtin_dataset
from ferganaug.emotions import EMOTIONS
from ferganaug.gan.expression import FrozenExpressionClassifier
from ferganaug.gan.networks import DECODERS
from ferganaug.gan.config import GANConfig
from ferganaug.gan.train import GANTrainer
from ferganaug.utils.hardware import describe_machine


def faces_per_second(trainer: GANTrainer, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(trainer._batch())
    return steps * trainer.config.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per layout and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=GANConfig.batch_size)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    args = parser.parse_args()

    train = builtin_dataset(train=2000, val=0, test=0).split("train")
    # an untrained classifier costs what a trained one does
    classifier = FrozenExpressionClassifier(create_model("deep-cnn", num_classes=len(EMOTIONS)), EMOTIONS)
    config = GANConfig(batch_size=args.batch_size, precision=args.precision, expr_confidence=0.9)
    trainers = {}
    for decoder in DECODERS:
        trainers[decoder] = GANTrainer(replace(config, g_decoder=decoder), train, classifier,
                                       tempfile.mkdtemp(prefix=f"bench-gan-{decoder}-"), progress=False)
        faces_per_second(trainers[decoder], 3)  # warm-up
    best = dict.fromkeys(DECODERS, 0.0)
    for r in range(args.rounds):
        for decoder in DECODERS if r % 2 == 0 else reversed(DECODERS):
            best[decoder] = max(best[decoder], faces_per_second(trainers[decoder], args.steps))
    print(describe_machine())
    path = trainers[DECODERS[0]].path
    print(f"fergan train step, batch {args.batch_size}, {path.precision}"
          f"{' + channels_last' if path.channels_last else ''}, decoder {config.g_decoder}, best of {args.rounds} rounds:")
    for decoder in DECODERS:
        print(f"  {decoder:9s} {best[decoder]:6.1f} faces/s")
    print(f"  ratio shuffle/upsample: {best['shuffle'] / best['upsample']:.2f}x")


if __name__ == "__main__":
    main()
