"""Launching a test's function as the ranks of a CPU (gloo) job, in the environment torchrun
would give each process."""

from __future__ import annotations

import os
import socket
from typing import Callable

import torch
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_rank(rank: int, world: int, port: int) -> None:
    """torchrun's environment for ``rank`` of ``world``, and one thread per process (the ranks
    share the machine's cores)."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)


def launch(worker: Callable[..., None], world: int, *args) -> None:
    """Run ``worker(rank, world, port, *args)`` in ``world`` fresh processes and wait for all of
    them; a worker's exception fails the launch. A rank killed by a signal before it finished
    (gloo aborting a rendezvous on a loaded machine, seen as SIGABRT) is launched once more on a
    fresh port; a second death fails."""
    try:
        mp.start_processes(worker, args=(world, free_port(), *args), nprocs=world, start_method="spawn", join=True)
    except mp.ProcessExitedException as died:
        if died.signal_name is None:
            raise
        mp.start_processes(worker, args=(world, free_port(), *args), nprocs=world, start_method="spawn", join=True)
