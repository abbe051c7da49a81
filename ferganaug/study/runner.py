"""Running a study's cells, in this process or in J spawned processes, and resuming.

Each cell is a fer-classify run folder, STUDY/cells/<condition>/seed<k>, trained by
``classifiers.workflow.run_training``. A cell is finished when its cell.json exists: it is
written atomically and last, holding the test metrics and the per-item test predictions, so
a half-finished cell can never be read as finished. Just before it, log_probs.npz keeps the
model's validation and test log-probabilities, from which the study shifts boundaries. An interrupted cell whose run folder has
config.json is continued with ``resume_training`` (from checkpoints/last.pt, or from the
start with the same seed); one interrupted before config.json is removed and started afresh.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Sequence

import torch

from classifiers.train_config import TrainConfig
from classifiers.workflow import DataOptions, resume_training, run_training
from ferganaug.study.conditions import StudyError
from ferganaug.study.plan import CELL_JSON, INVOCATIONS, check_synthetic_unchanged, load_study
from ferganaug.data.spec import load_dataset
from ferganaug.study.report import write_report
from ferganaug.study.reuse import reuse_cells
from ferganaug.study.shift import predict_log_probs, write_log_probs
from ferganaug.utils import locks
from ferganaug.utils.files import append_jsonl, atomic_write_text, read_jsonl
from ferganaug.utils.hardware import cpu_info, resolve_device

log = logging.getLogger(__name__)

CLAIMS = "claims"  # one file per cell being trained, by whom


def cell_finished(study_dir: str | Path, cell: dict) -> bool:
    return (Path(study_dir) / cell["path"] / CELL_JSON).is_file()


def run_cell(study_dir: str | Path, cell: dict, progress: bool = False) -> dict:
    """Train (or continue) one cell and write its cell.json; a finished cell is just read."""
    run_dir = Path(study_dir) / cell["path"]
    done = run_dir / CELL_JSON
    if done.is_file():
        return json.loads(done.read_text())
    start = time.perf_counter()
    resumed = (run_dir / "config.json").is_file()
    if resumed:
        _, report = resume_training(run_dir, progress=progress, with_predictions=True)
    else:
        if run_dir.exists():  # interrupted before config.json: nothing in it can be trusted or reused
            shutil.rmtree(run_dir)
        config = TrainConfig.from_dict(cell["train"])
        options = DataOptions(**cell["data"])
        _, report = run_training(config, options, run_dir=run_dir, progress=progress, with_predictions=True)
    saved = json.loads((run_dir / "config.json").read_text())
    record = {
        "condition": cell["condition"],
        "base": cell["base"],
        "amount": cell["amount"],
        "seed": cell["seed"],
        "path": cell["path"],
        "train": cell["train"],
        "synthetic_added": saved["data"].get("synthetic_added", {}),
        "train_size": saved["run"]["train_size"],
        "train_class_counts": saved["run"]["train_class_counts"],
        "numeric_path": saved["run"]["numeric_path"],
        "train_seconds": sum(r.get("epoch_seconds", 0.0) for r in read_jsonl(run_dir / "stats.jsonl")),
        "wall_seconds": time.perf_counter() - start,
        "resumed": resumed,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "report": {k: v for k, v in report.items() if k != "items"},
        "items": report["items"],
    }
    data = load_dataset(cell["data"]["spec"], cache_dir=cell["data"].get("cache_dir"),
                        skip_bad=cell["data"].get("skip_bad", False))
    write_log_probs(run_dir, predict_log_probs(run_dir, record, data, resolve_device(cell["train"]["device"])))
    atomic_write_text(done, _cell_json(record))
    return record


def _cell_json(record: dict) -> str:
    """Indented JSON, but each per-item list on one line (thousands of numbers otherwise)."""
    head = json.dumps({k: v for k, v in record.items() if k != "items"}, indent=2)
    items = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}"
                       for k, v in record["items"].items())
    return head[:-2] + ',\n  "items": {\n' + items + "\n  }\n}\n"


def _init_worker(threads: int) -> None:
    # J processes share the cores; without this each would start one thread per core.
    torch.set_num_threads(threads)


def _run_cells(study_dir: Path, cells: list[dict], jobs: int, progress: bool) -> None:
    total = len(cells)
    if jobs <= 1 or total <= 1:
        for n, cell in enumerate(cells, start=1):
            log.info("cell %d/%d: %s, seed %d", n, total, cell["condition"], cell["seed"])
            run_cell(study_dir, cell, progress)
        return
    threads = max(1, int(cpu_info()["cores"] or 1) // jobs)
    log.info("running %d cells in %d processes, %d torch thread(s) each", total, jobs, threads)
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools and locks
    with ProcessPoolExecutor(max_workers=min(jobs, total), mp_context=context, initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(run_cell, str(study_dir), cell, False): cell for cell in cells}
        try:
            for n, future in enumerate(as_completed(futures), start=1):
                cell = futures[future]
                future.result()
                log.info("cell %d/%d finished: %s, seed %d", n, total, cell["condition"], cell["seed"])
        except BrokenProcessPool:
            raise StudyError(f"a cell's process died (out of memory? try fewer --jobs); finished cells are kept: "
                             f"fergan study --resume {study_dir}") from None
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def shard_cells(cells: list[dict], shard: tuple[int, int] | None) -> list[dict]:
    """The K-th of N disjoint slices of the plan (cells K-1, K-1+N, ...); all of it without a shard."""
    if shard is None:
        return list(cells)
    k, n = shard
    if not 1 <= k <= n:
        raise StudyError(f"--shard {k}/{n}: expected K/N with 1 <= K <= N, such as 1/2")
    return [cell for i, cell in enumerate(cells) if i % n == k - 1]


def _claim_path(study_dir: Path, cell: dict) -> Path:
    return study_dir / CLAIMS / (cell["path"].replace("/", "__") + ".claim")


def run_study(study_dir: str | Path, jobs: int = 1, progress: bool = True, n_boot: int | None = None,
              argv: Sequence[str] | None = None, shard: tuple[int, int] | None = None,
              reuse_from: Sequence[str | Path] = ()) -> dict | None:
    """Run the unfinished cells of a planned study (with ``shard=(K, N)``, only the K-th of N
    disjoint slices, so that workers on several machines can share a study folder), then write
    results.json, report.md and the figures once every cell is finished; returns the results,
    or None while cells are still missing. A cell another worker has claimed is skipped: claims
    are files created exclusively, so two workers never train the same cell. ``reuse_from``:
    studies whose finished cells of the same experiment are copied instead of trained (see
    ``reuse``). ``argv``: the command line that asked, logged in the study's invocations."""
    study_dir = Path(study_dir)
    study = load_study(study_dir)
    mine = shard_cells(study["cells"], shard)
    remaining = [c for c in mine if not cell_finished(study_dir, c)]
    if len(remaining) < len(mine):
        log.info("%d of %d cells already finished; running the other %d", len(mine) - len(remaining), len(mine),
                 len(remaining))
    check_synthetic_unchanged(study, remaining)
    (study_dir / CLAIMS).mkdir(exist_ok=True)
    claimed = [c for c in remaining if locks.try_claim(_claim_path(study_dir, c))]
    for cell in remaining:
        if cell not in claimed:
            log.info("skipping %s, seed %d: %s is training it", cell["condition"], cell["seed"],
                     locks.describe(locks.holder_of(_claim_path(study_dir, cell))))
    started, clock = time.strftime("%Y-%m-%dT%H:%M:%S%z"), time.perf_counter()
    reused: list[dict] = []
    try:
        reused = reuse_cells(study_dir, claimed, reuse_from) if reuse_from else []
        _run_cells(study_dir, [c for c in claimed if not cell_finished(study_dir, c)], jobs, progress)
    finally:
        for cell in claimed:
            locks.release(_claim_path(study_dir, cell))
        append_jsonl(study_dir / INVOCATIONS, {
            "argv": None if argv is None else list(argv), "jobs": jobs, "shard": None if shard is None else list(shard),
            "cells_to_run": len(claimed), "cells_reused": len(reused), "started": started, "seconds": time.perf_counter() - clock,
            "cells_finished": sum(cell_finished(study_dir, c) for c in claimed),
        })
    missing = missing_cells(study_dir, study)
    if missing:
        log.info("%d of %d cells are not finished yet (%s); the report is written when they are", len(missing),
                 len(study["cells"]), ", ".join(f"{c['condition']} seed {c['seed']}" for c in missing[:4]))
        return None
    return write_report(study_dir, n_boot=n_boot)


def missing_cells(study_dir: str | Path, study: dict) -> list[dict]:
    """The planned cells without a cell.json."""
    return [c for c in study["cells"] if not cell_finished(study_dir, c)]
