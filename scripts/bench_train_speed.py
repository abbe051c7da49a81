#!/usr/bin/env python
"""Training and inference throughput of deep-cnn: the toolkit's pipeline beside a
straightforward PyTorch one (PIL images, torchvision transforms, DataLoader, fp32), in one run.

    python scripts/bench_train_speed.py [--data builtin] [--images 6400] [--batches 40]

Targets: toolkit training >= 4x the straightforward pipeline, and its epoch (validation
included) >= 90% of the step rate its own precision probe measures; batched inference
>= 3,000 faces/s. Prints the CPU model and flags beside every ratio, because the fastest path
depends on the CPU (native bf16 or AVX2 only).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from classifiers.inference import fold_batchnorm, predict_logits
from classifiers.registry import create_model
from classifiers.train import TrainConfig, Trainer, TrainData
from ferganaug.data.augment import augment_batch
from ferganaug.data.spec import load_dataset
from ferganaug.utils.hardware import describe_machine
from ferganaug.utils.precision import CANDIDATES, NumericPath, measure_train_throughput


class PilFaces(Dataset):
    """What a typical tutorial does: PIL images and a torchvision transform per item."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = [Image.fromarray(img[0].numpy(), mode="L") for img in images]
        self.labels = labels.tolist()
        self.transform = transforms.Compose([
            transforms.RandomHorizontalFlip(),
            transforms.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.15)),
            transforms.ColorJitter(brightness=0.1, contrast=0.2),
            transforms.ToTensor(),
            transforms.Normalize([0.5], [0.5]),
        ])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def naive_throughput(images, labels, batch_size: int, batches: int) -> float:
    torch.manual_seed(0)
    model = create_model("deep-cnn").train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(PilFaces(images, labels), batch_size=batch_size, shuffle=True, num_workers=2,
                        drop_last=True, persistent_workers=True)
    seen, start = 0, None
    for epoch in range(100):
        for step, (x, y) in enumerate(loader):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if start is None and step == 2:  # skip worker start-up and first-step allocation
                start = time.perf_counter()
            elif start is not None:
                seen += y.shape[0]
                if seen >= batches * batch_size:
                    return seen / (time.perf_counter() - start)
    raise RuntimeError("not enough data for the requested batches")


def toolkit_throughput(train, val, batch_size: int, batches: int, precision: str, rounds: int = 3) -> dict:
    """The toolkit's training epoch, end to end (sampling, augmentation, step, logging, then
    validation on an eighth as many faces, FER2013's proportion), beside its own precision
    probe's step rate on the same numeric path, and the parts of the epoch measured alone.

    Epochs and probes alternate for ``rounds`` rounds and each reports its median: on a shared
    host the speed of two cores drifts by tens of percent within a minute, and timing one after
    the other would charge that drift to whichever ran second."""
    n = min(len(train), batches * batch_size)
    subset = train.subset(torch.arange(n))
    val_subset = val.subset(torch.arange(min(len(val), max(n // 8, 1))))
    config = TrainConfig(model="deep-cnn", epochs=rounds + 1, batch_size=batch_size, augment="standard",
                         precision=precision)
    epoch_rates, train_rates, probe_rates, validation_shares = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, TrainData(subset, val_subset, "val"), tmp, progress=False)
        trainer.train_epoch()  # warm-up epoch: allocator, oneDNN primitive caches
        for _ in range(rounds):
            probe_rates.append(measure_train_throughput(lambda: create_model("deep-cnn"), trainer.path,
                                                        trainer.device, batch_size, seconds=3.0))
            start = time.perf_counter()
            stats = trainer.train_epoch()
            validation_start = time.perf_counter()
            trainer.evaluate(val_subset)
            end = time.perf_counter()
            epoch_rates.append(n / (end - start))
            train_rates.append(stats["images_per_s"])
            validation_shares.append((end - validation_start) / (end - start))
        images = subset.images[:batch_size].float().div(255.0)
        augment_start = time.perf_counter()
        for _ in range(10):
            augment_batch(images, trainer.augment, trainer.augment_generator)
        augment_s = (time.perf_counter() - augment_start) / 10
    epoch_rate = statistics.median(epoch_rates)
    return {
        "path": trainer.path.name, "probe": trainer.probe, "rounds": rounds,
        "step_rate": statistics.median(probe_rates), "step_rates": probe_rates,
        "train_rate": statistics.median(train_rates), "epoch_rate": epoch_rate, "epoch_rates": epoch_rates,
        "validation_share": statistics.median(validation_shares),
        "augment_share": augment_s * (n / batch_size) * epoch_rate / n,
    }


def inference_throughput(images, path: NumericPath, batch_size: int, fold: bool, seconds: float = 3.0) -> float:
    model = create_model("deep-cnn").eval()
    model = path.prepare_model(fold_batchnorm(model) if fold else model)
    device = torch.device("cpu")
    predict_logits(model, images[:batch_size], path, device, batch_size)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predict_logits(model, images, path, device, batch_size)
        count += images.shape[0]
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="builtin", help="dataset spec (builtin, fer2013.csv.gz, ...)")
    parser.add_argument("--naive-batch-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128, help="toolkit training batch size")
    parser.add_argument("--batches", type=int, default=40, help="timed batches per pipeline")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--inference-batch-size", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())

    print(describe_machine())
    data = load_dataset(args.data)
    train, val = data.split("train"), data.split("val") if data.has_split("val") else data.split("train")
    naive_n = min(len(train), (args.batches + 3) * args.naive_batch_size)
    print(f"data: {args.data} ({len(train)} training faces); model deep-cnn; {args.batches} timed batches each")

    naive = naive_throughput(train.images[:naive_n], train.labels[:naive_n], args.naive_batch_size, args.batches)
    print(f"straightforward pipeline (PIL + torchvision transforms + DataLoader(2 workers), fp32, "
          f"batch {args.naive_batch_size}): {naive:8.0f} img/s")
    toolkit = toolkit_throughput(train, val, args.batch_size, args.batches, args.precision)
    fast = toolkit["epoch_rate"]
    probe_text = ", ".join(f"{k} {v:.0f}" for k, v in toolkit["probe"].items()) or "fixed by --precision"
    print(f"toolkit (in-memory uint8, kornia batch augmentation, {toolkit['path']}, batch {args.batch_size}): "
          f"{fast:8.0f} img/s per epoch, validation included   [precision probe img/s: {probe_text}]")
    print(f"  training steps alone {toolkit['train_rate']:.0f} img/s; augmentation {toolkit['augment_share']:.1%} "
          f"and validation {toolkit['validation_share']:.1%} of the epoch")
    step_ratio = fast / toolkit["step_rate"]
    rounds = ", ".join(f"{e:.0f}/{p:.0f}" for e, p in zip(toolkit["epoch_rates"], toolkit["step_rates"]))
    print(f"  epoch/probe img/s in each of {toolkit['rounds']} alternating rounds: {rounds}")
    print(f"epoch rate / the probe's step rate ({toolkit['step_rate']:.0f} img/s, same path, median of "
          f"{toolkit['rounds']} 3-s probes): {step_ratio:.0%} "
          f"(target >= 90%) -> {'MET' if step_ratio >= 0.9 else 'NOT MET'}")
    ratio = fast / naive
    print(f"training speed-up over the straightforward pipeline: {ratio:.2f}x (target >= 4x) -> "
          f"{'MET' if ratio >= 4 else 'NOT MET'}")

    images = train.images[: max(args.inference_batch_size * 8, 2048)]
    rates = {}
    for path in CANDIDATES:
        for fold in (False, True):
            name = path.name + (" + BN folded" if fold else "")
            rates[name] = inference_throughput(images, path, args.inference_batch_size, fold)
            print(f"inference {name:<32} batch {args.inference_batch_size}: {rates[name]:8.0f} faces/s")
    best = max(rates, key=rates.get)
    print(f"inference best: {best} {rates[best]:.0f} faces/s (target >= 3000) -> "
          f"{'MET' if rates[best] >= 3000 else 'NOT MET'}")
    print(describe_machine())


if __name__ == "__main__":
    main()
