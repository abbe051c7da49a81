"""Benchmark FER2013 decoding: cold decode (no cache) and cached load, beside their targets.

    python scripts/bench_data.py [PATH]      # default ../shared/data/fer2013/fer2013.csv.gz

Prints the CPU model and the flags that matter here, then the times. Exits with status 2
and a message when the file is absent (it is research data kept outside the repository).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from ferganaug.utils.hardware import describe_machine

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "fer2013" / "fer2013.csv.gz"
DECODE_TARGET_S = 30.0
CACHED_TARGET_S = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT), help="fer2013.csv or .csv.gz")
    parser.add_argument("--repeats", type=int, default=1, help="cold decodes to time (best is shown)")
    args = parser.parse_args(argv)
    path = Path(args.path)
    print(describe_machine())
    if not path.is_file():
        print(f"error: {path} not found - this benchmark needs the real FER2013 file "
              f"(see ../shared/data/README.md) or a path argument", file=sys.stderr)
        return 2

    import torch

    from ferganaug.data.fer2013 import read_fer2013

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads | file: {path} "
          f"({path.stat().st_size / 1e6:.1f} MB)")
    best = float("inf")
    for _ in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        ds = read_fer2013(path, cache=False)
        best = min(best, time.perf_counter() - t0)
    print(f"decode (cold, no cache): {best:7.2f} s   target <= {DECODE_TARGET_S:.0f} s   "
          f"{'OK' if best <= DECODE_TARGET_S else 'TOO SLOW'}   ({len(ds):,} rows, "
          f"{len(ds) / best:,.0f} rows/s)")
    with tempfile.TemporaryDirectory() as tmp:
        read_fer2013(path, cache_dir=tmp)  # fills the cache
        t0 = time.perf_counter()
        cached = read_fer2013(path, cache_dir=tmp)
        dt = time.perf_counter() - t0
        assert cached.info["cache"] == "hit", cached.info["cache"]
        same = torch.equal(cached.images, ds.images) and torch.equal(cached.labels, ds.labels)
        print(f"cached load (.npz):      {dt:7.2f} s   target <= {CACHED_TARGET_S:.0f} s   "
              f"{'OK' if dt <= CACHED_TARGET_S else 'TOO SLOW'}   (equal to fresh decode: {same})")
    return 0 if best <= DECODE_TARGET_S and dt <= CACHED_TARGET_S and same else 1


if __name__ == "__main__":
    sys.exit(main())
