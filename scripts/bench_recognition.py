"""Batched recognition of aligned 48x48 faces: faces per second per design, side by side.

    python scripts/bench_recognition.py [--models deep-cnn,mini-xception] [--batch-size 256]

Each design is built with its registry defaults (speed does not depend on the weights),
BatchNorm folded as `fer-classify predict` and `video` do, and measured on every numeric path
this CPU offers (fp32, fp32 + channels_last, and bf16 ones where torch has them), in two
interleaved rounds that keep each path's best; the fastest path counts. Prints the CPU model
and flags first, then faces per second at the batch size and the latency of one face, and
the ratios to the targets: deep-cnn at least 3,000 faces/s, the real-time design at least
3 times deep-cnn.
"""

from __future__ import annotations

import argparse
import sys

import torch

from classifiers.inference import CPU, fold_batchnorm, measure_latency
from classifiers.registry import create_model
from ferganaug.utils.hardware import describe_machine
from ferganaug.utils.precision import pick_fastest

DEEP_CNN_TARGET = 3000.0
REALTIME_FACTOR = 3.0


def measure(name: str, batch_size: int, seconds: float) -> dict:
    model = fold_batchnorm(create_model(name).eval())
    params = sum(p.numel() for p in model.parameters())

    def faces_per_s(path) -> float:
        return measure_latency(path.prepare_model(model), path, CPU, batch_size, seconds)["batched"]["faces_per_s"]

    path, rates = pick_fastest("auto", CPU, faces_per_s)
    single = measure_latency(path.prepare_model(model), path, CPU, batch_size, seconds)["single"]
    return {"params": params, "path": path.name, "rates": rates, "best": rates[path.name],
            "single_ms": single["ms_per_face"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="deep-cnn,mini-xception")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=1.5, help="per measurement")
    args = parser.parse_args(argv)
    print(describe_machine())
    results = {}
    with torch.inference_mode():
        for name in args.models.split(","):
            results[name] = measure(name, args.batch_size, args.seconds)
    paths = sorted({p for r in results.values() for p in r["rates"]})
    print(f"{'design':<14} {'params':>8} " + " ".join(f"{p:>22}" for p in paths) + f" {'1 face ms':>9}   (faces/s, batch {args.batch_size})")
    for name, r in results.items():
        cells = " ".join(f"{r['rates'].get(p, float('nan')):>22.0f}" for p in paths)
        print(f"{name:<14} {r['params']:>8,} {cells} {r['single_ms']:>9.2f}   best: {r['path']}")
    if "deep-cnn" in results:
        deep = results["deep-cnn"]["best"]
        print(f"deep-cnn: {deep:.0f} faces/s = {deep / DEEP_CNN_TARGET:.2f}x the 3,000 target")
        for name, r in results.items():
            if name != "deep-cnn":
                print(f"{name}: {r['best'] / deep:.2f}x deep-cnn (target {REALTIME_FACTOR:.0f}x)")
    print(describe_machine())
    return 0


if __name__ == "__main__":
    sys.exit(main())
