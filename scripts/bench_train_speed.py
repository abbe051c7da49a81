#!/usr/bin/env python
"""Training and inference throughput of deep-cnn: the toolkit's pipeline beside a
straightforward PyTorch one (PIL images, torchvision transforms, DataLoader, fp32), in one run.

    python scripts/bench_train_speed.py [--data builtin] [--images 6400] [--batches 40]

Targets (issue 2): toolkit training >= 4x the straightforward pipeline; batched inference
>= 3,000 faces/s. Prints the CPU model and flags beside every ratio, because the fastest path
depends on the CPU (native bf16 or AVX2 only).
"""

from __future__ import annotations

import argparse
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
from ferganaug.data.spec import load_dataset
from ferganaug.utils.hardware import describe_machine
from ferganaug.utils.precision import CANDIDATES, NumericPath


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


def toolkit_throughput(train, val, batch_size: int, batches: int, precision: str) -> tuple[float, str, dict]:
    n = min(len(train), batches * batch_size)
    subset = train.subset(torch.arange(n))
    config = TrainConfig(model="deep-cnn", epochs=2, batch_size=batch_size, augment="standard", precision=precision)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, TrainData(subset, val.subset(torch.arange(min(len(val), 256))), "val"), tmp, progress=False)
        trainer.train_epoch()  # warm-up epoch: allocator, oneDNN primitive caches
        stats = trainer.train_epoch()
    return stats["images_per_s"], trainer.path.name, trainer.probe


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
    fast, path_name, probe = toolkit_throughput(train, val, args.batch_size, args.batches, args.precision)
    probe_text = ", ".join(f"{k} {v:.0f}" for k, v in probe.items()) or "fixed by --precision"
    print(f"toolkit (in-memory uint8, kornia batch augmentation, {path_name}, batch {args.batch_size}): "
          f"{fast:8.0f} img/s   [probe img/s: {probe_text}]")
    ratio = fast / naive
    print(f"training speed-up: {ratio:.2f}x (target >= 4x) -> {'MET' if ratio >= 4 else 'NOT MET'}")

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
