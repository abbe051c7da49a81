"""Run folders: ``runs/<tool>/00003-<desc>/``, numbered so runs sort by creation, with every
file name defined here once."""

from __future__ import annotations

import json
import platform
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from ferganaug.utils.files import append_jsonl, atomic_write_json, atomic_write_text, json_text, read_jsonl
from ferganaug.utils.hardware import cpu_info

CONFIG_JSON = "config.json"
STATS_JSONL = "stats.jsonl"
METRICS_JSONL = "metrics.jsonl"
SAMPLES_DIR = "samples"
CHECKPOINTS_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"

_RUN_NAME = re.compile(r"^(\d{5})-")


class RunFolderError(ValueError):
    """A folder that is not the run folder a command expects."""


def next_run_dir(root: str | Path, desc: str) -> Path:
    """Create and return ``root/NNNNN-desc`` with the next free number."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in root.iterdir() if (m := _RUN_NAME.match(p.name))]
    number = max(taken, default=-1) + 1
    safe_desc = re.sub(r"[^A-Za-z0-9._+-]+", "_", desc).strip("_") or "run"
    while True:
        path = root / f"{number:05d}-{safe_desc}"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # another process took this number first
            number += 1


class RunFolder:
    """One run's folder: where its config, statistics, samples and checkpoints live."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, root: str | Path, desc: str) -> RunFolder:
        """A new numbered folder under ``root``."""
        return cls(next_run_dir(root, desc))

    @classmethod
    def at(cls, path: str | Path) -> RunFolder:
        """A run folder at a fixed place (a study cell, a GAN's loss classifier)."""
        Path(path).mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def existing(cls, path: str | Path, tool: str) -> RunFolder:
        """A folder written by ``tool`` before, to resume: refused unless it has config.json."""
        folder = cls(path)
        if not folder.path.is_dir():
            raise RunFolderError(f"{folder.path} is not a folder; --resume takes a {tool} run folder")
        if not folder.config_path.is_file():
            raise RunFolderError(
                f"{folder.path} is not a {tool} run folder (no {CONFIG_JSON}); --resume takes a folder that "
                f"{tool} wrote, such as runs/.../00000-..."
            )
        return folder

    def discard_unstarted(self) -> bool:
        """Remove a folder whose run never started (no config.json was written): a failed start
        leaves nothing behind to be mistaken for a run. Returns whether it was removed."""
        if self.config_path.exists() or not self.path.is_dir():
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        return True

    # -- names --------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_JSON

    @property
    def stats_path(self) -> Path:
        return self.path / STATS_JSONL

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_JSONL

    @property
    def samples_dir(self) -> Path:
        return self.path / SAMPLES_DIR

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints_dir / LAST_CHECKPOINT

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints_dir / BEST_CHECKPOINT

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- config.json ----------------------------------------------------------------------------
    def write_config(self, tool: str, sections: dict[str, Any], argv: Sequence[str] | None) -> dict:
        """config.json, written before the first step: the resolved config ``sections``, the
        command line the CLI passed in (None when a library call started the run), versions and
        the machine."""
        import torch

        config = {
            "tool": tool,
            "argv": None if argv is None else list(argv),
            **sections,
            "versions": {"ferganaug": _package_version(), "torch": torch.__version__,
                         "python": sys.version.split()[0], "platform": platform.platform()},
            "machine": cpu_info(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic_write_json(self.config_path, config)
        return config

    def rewrite_config(self, config: dict) -> None:
        """Replace config.json with ``config`` (read by :meth:`read_config` and changed), atomically."""
        atomic_write_json(self.config_path, config)

    def read_config(self) -> dict:
        try:
            return json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise RunFolderError(f"{self.path} has no {CONFIG_JSON}") from None
        except (OSError, ValueError) as err:
            raise RunFolderError(f"{self.config_path} cannot be read as JSON ({err})") from None

    # -- stats.jsonl ----------------------------------------------------------------------------
    def append_stats(self, row: dict) -> None:
        append_jsonl(self.stats_path, row)

    def read_stats(self) -> list[dict]:
        return read_jsonl(self.stats_path)

    def trim_stats(self, key: str, last: int) -> None:
        """Keep only the rows up to ``last`` (by ``key``, e.g. step or epoch): rows written after
        the checkpoint a resumed run restarts from would otherwise appear twice."""
        rows = [r for r in self.read_stats() if r.get(key, 0) <= last]
        atomic_write_text(self.stats_path, "".join(json_text(r, indent=None) + "\n" for r in rows))


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ferganaug")
    except PackageNotFoundError:
        return "unknown"
