"""Data parallelism on PyTorch's own runtime: a command started by ``torchrun`` sees
RANK / WORLD_SIZE / LOCAL_RANK in its environment, joins the process group (gloo on CPU, nccl
on CUDA) and trains on its shard of every batch. One process, the usual case, is world size 1
and every helper here is then the identity."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
import torch.nn as nn

from ferganaug.engine.run_folder import RunFolder

T = TypeVar("T")


@dataclass(frozen=True)
class ProcessGroup:
    """Where this process stands in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run folder, the progress bars and the plots."""
        return self.rank == 0

    def describe(self) -> dict:
        return {"world_size": self.world_size, "backend": self.backend}


SINGLE = ProcessGroup()


def join_from_environment(device: torch.device) -> ProcessGroup:
    """The process group torchrun's environment describes (joined once), else a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return SINGLE
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return ProcessGroup(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), backend)


def is_main_process() -> bool:
    """False in torchrun's processes of rank 1 and up, before any group is joined: what a command
    prints at its end, it prints once."""
    return os.environ.get("RANK", "0") == "0"


def per_rank_batch(global_batch: int, group: ProcessGroup) -> int:
    """A recipe's batch size means the global batch at any world size: each rank takes its share."""
    if global_batch % group.world_size:
        raise ValueError(f"batch size {global_batch} does not split over {group.world_size} processes; "
                         f"choose a multiple of {group.world_size}")
    return global_batch // group.world_size


def shard_batch(index: torch.Tensor, group: ProcessGroup) -> torch.Tensor:
    """This rank's contiguous part of a global batch of indices (every rank draws the same one)."""
    if not group.active:
        return index
    return index.tensor_split(group.world_size)[group.rank]


def in_global_batch(shard: torch.Tensor, global_size: int, group: ProcessGroup) -> torch.Tensor:
    """``shard`` at this rank's rows of a global batch of zeros (differentiable): a random batch
    operation that draws one set of parameters per row (an augmentation) then draws for the
    global batch, so each row gets what one process would give it; ``shard_batch`` takes the
    rows back."""
    if not group.active:
        return shard
    rows = shard_batch(torch.arange(global_size), group).to(shard.device)
    return shard.new_zeros((global_size, *shard.shape[1:])).index_copy(0, rows, shard)


def shard_range(n: int, group: ProcessGroup) -> slice:
    """This rank's contiguous part of ``range(n)``: the shards are disjoint and cover it."""
    bounds = torch.linspace(0, n, group.world_size + 1).round().long().tolist()
    return slice(bounds[group.rank], bounds[group.rank + 1])


def all_reduce_sum(values: torch.Tensor, group: ProcessGroup) -> torch.Tensor:
    """The sum over ranks (a copy; the identity for one process)."""
    total = values.detach().clone()
    if group.active:
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def mean_over_ranks(values: dict[str, float], group: ProcessGroup) -> dict[str, float]:
    """Each value averaged over the ranks: per-rank means over equal shards average to the mean
    over the global batch, so logged statistics mean the same at any world size."""
    if not group.active:
        return dict(values)
    total = all_reduce_sum(torch.tensor(list(values.values()), dtype=torch.float64), group)
    return dict(zip(values, (total / group.world_size).tolist()))


def gather_rows(rows: torch.Tensor, group: ProcessGroup) -> torch.Tensor:
    """Every rank's rows concatenated in rank order (shards of unequal length are padded for the
    collective and trimmed after), so each item counts once."""
    if not group.active:
        return rows
    sizes = [torch.zeros(1, dtype=torch.long) for _ in range(group.world_size)]
    dist.all_gather(sizes, torch.tensor([rows.shape[0]]))
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros((longest, *rows.shape[1:]), dtype=rows.dtype)
    padded[: rows.shape[0]] = rows
    parts = [torch.empty_like(padded) for _ in range(group.world_size)]
    dist.all_gather(parts, padded)
    return torch.cat([part[: int(size.item())] for part, size in zip(parts, sizes)])


def data_parallel(model: nn.Module, group: ProcessGroup, device: torch.device, **options) -> nn.Module:
    """DistributedDataParallel over the job's ranks (gradients averaged each step, so every rank
    keeps identical weights); the model itself when training alone. ``options`` go to DDP."""
    if not group.active:
        return model
    devices = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=devices, **options)


def synchronised_batchnorm(model: nn.Module, group: ProcessGroup, device: torch.device) -> nn.Module:
    """``model`` with its BatchNorm layers computing batch statistics over every rank's shard
    (torch's SyncBatchNorm: the global batch's statistics, as one process would see them),
    instead of each rank over its own shard. SyncBatchNorm runs on GPUs only."""
    if not group.active:
        return model  # one process already sees the whole batch
    if device.type != "cuda":
        raise ValueError("synchronised BatchNorm needs GPUs (torch's SyncBatchNorm runs on CUDA only); "
                         "on CPU ranks each keep per-rank statistics")
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def create_run_folder(root: str | os.PathLike, desc: str, group: ProcessGroup) -> RunFolder:
    """A new numbered run folder, made by rank 0 alone and the same one on every rank."""
    made = RunFolder.create(root, desc).path if group.is_main else None
    return RunFolder(broadcast_object(made, group))


def leave(group: ProcessGroup) -> None:
    if group.active and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_object(obj: T, group: ProcessGroup) -> T:
    """Rank 0's ``obj`` on every rank (a run folder's path, a measured choice)."""
    if not group.active:
        return obj
    box = [obj if group.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(group: ProcessGroup) -> None:
    """Wait until every rank is here (e.g. before reading what rank 0 wrote)."""
    if group.active:
        dist.barrier()
