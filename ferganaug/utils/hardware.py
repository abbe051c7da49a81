"""What machine are we on: CPU model and the SIMD flags that decide the fastest precision."""

from __future__ import annotations

import os
import platform
from functools import lru_cache

import torch

_INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    """CPU model, the flags that matter for bf16 speed, cores and torch version."""
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("unknown", "", platform.processor()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "flags": [f for f in _INTERESTING_FLAGS if f in flags],
        "native_bf16": bool({"avx512_bf16", "amx_bf16"} & flags),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def describe_machine() -> str:
    info = cpu_info()
    line = (
        f"CPU: {info['cpu_model']} | flags: {' '.join(info['flags']) or 'none of ' + ','.join(_INTERESTING_FLAGS)}"
        f" | cores: {info['cores']} | torch {info['torch']} ({info['torch_threads']} threads)"
    )
    if torch.cuda.is_available():
        line += f" | GPU: {torch.cuda.get_device_name(0)}"
    return line


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' requested but CUDA is not available on this machine")
    return torch.device(device)
