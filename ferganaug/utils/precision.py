"""Choosing the fastest numeric path by measuring it, not by guessing from the CPU name.

On CPUs with native bf16 (AVX-512 BF16 / AMX) bf16 autocast + channels_last trains small CNNs
several times faster than fp32; on AVX2-only CPUs the same autocast is ~10x *slower*. So
``precision="auto"`` times a few real training steps of each candidate path and keeps the
fastest; the choice and the timings go into the run's config.json.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class NumericPath:
    precision: str  # "fp32" or "bf16"
    channels_last: bool

    @property
    def name(self) -> str:
        return self.precision + ("+channels_last" if self.channels_last else "")

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        if self.precision == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare_model(self, model: nn.Module) -> nn.Module:
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        # channels_last only changes 4-D layouts; for 1-channel inputs it is a cheap restride.
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x

    def to_dict(self) -> dict:
        return asdict(self) | {"name": self.name}


CANDIDATES = (NumericPath("fp32", False), NumericPath("fp32", True), NumericPath("bf16", False), NumericPath("bf16", True))


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu"


def fixed_path(precision: str, device: torch.device) -> NumericPath:
    """The path for an explicit --precision (channels_last on: it never lost in our measurements)."""
    if precision == "bf16" and not bf16_supported(device):
        raise ValueError(f"bf16 is not supported on device {device}")
    return NumericPath(precision, channels_last=True)


def measure_train_throughput(
    make_model: Callable[[], nn.Module],
    path: NumericPath,
    device: torch.device,
    batch_size: int,
    input_shape: tuple[int, int, int] = (1, 48, 48),
    num_classes: int = 7,
    seconds: float = 1.5,
    warmup_steps: int = 2,
    give_up_below: float = 0.0,
) -> float:
    """Images per second of full training steps (forward, backward, Adam) on random data.

    A path whose first step alone runs below ``give_up_below`` images/s is not timed further:
    its one-step rate is returned (a first step carries set-up costs, so this only errs against
    the path). bf16 on a CPU without bf16 units can take tens of seconds a step for a
    ResNet-50, and a full measurement of it would cost minutes."""
    model = path.prepare_model(make_model().to(device)).train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x = path.prepare_input(torch.randn(batch_size, *input_shape, device=device))
    y = torch.randint(0, num_classes, (batch_size,), device=device)

    def step() -> None:
        with path.autocast(device):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    first_start = time.perf_counter()
    step()
    _sync(device)
    first_rate = batch_size / (time.perf_counter() - first_start)
    if first_rate < give_up_below:
        return first_rate
    for _ in range(warmup_steps - 1):
        step()
    _sync(device)
    start, images = time.perf_counter(), 0
    while True:
        step()
        images += batch_size
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and images >= 2 * batch_size:
            return images / elapsed


def choose_path(
    make_model: Callable[[], nn.Module],
    device: torch.device,
    batch_size: int,
    precision: str = "auto",
    input_shape: tuple[int, int, int] = (1, 48, 48),
    num_classes: int = 7,
    seconds: float = 1.5,
) -> tuple[NumericPath, dict[str, float]]:
    """The numeric path to train with and the training throughputs measured (empty if fixed)."""
    return pick_fastest(precision, device, capped_probe(
        lambda path, floor: measure_train_throughput(
            make_model, path, device, batch_size, input_shape, num_classes, seconds, give_up_below=floor
        )
    ))


GIVE_UP_FACTOR = 8  # a first step this many times slower than the best path so far ends a probe


def capped_probe(measure: Callable[[NumericPath, float], float]) -> Callable[[NumericPath], float]:
    """``measure(path, floor)`` as a one-argument probe for :func:`pick_fastest` that passes, as
    the floor, the best rate so far divided by GIVE_UP_FACTOR: a hopeless path costs one step."""
    best = 0.0

    def probe(path: NumericPath) -> float:
        nonlocal best
        rate = measure(path, best / GIVE_UP_FACTOR)
        best = max(best, rate)
        return rate

    return probe


def pick_fastest(
    precision: str, device: torch.device, measure: Callable[[NumericPath], float], rounds: int = 2
) -> tuple[NumericPath, dict[str, float]]:
    """Resolve ``precision``: a fixed choice as given, or ``auto`` = the candidate that
    ``measure`` (a throughput, higher is better) rates fastest on this device.

    Candidates are measured in ``rounds`` interleaved rounds, in alternating order, and each
    keeps its best: a burst of load from another process (seen here: an evaluation starting
    mid-probe made fp32 look faster than bf16 and halved a GAN run's speed) then slows one
    measurement of a path, not all of them."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return fixed_path(precision, device), {}
    candidates = [path for path in CANDIDATES if path.precision == "fp32" or bf16_supported(device)]
    measured: dict[str, float] = {}
    rng_state = torch.get_rng_state()  # the probe must not shift the run's random stream
    try:
        for round_index in range(max(1, rounds)):
            order = candidates if round_index % 2 == 0 else candidates[::-1]
            for path in order:
                measured[path.name] = max(measured.get(path.name, 0.0), measure(path))
    finally:
        torch.set_rng_state(rng_state)
    best = max(measured, key=measured.get)
    return next(p for p in CANDIDATES if p.name == best), measured


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
