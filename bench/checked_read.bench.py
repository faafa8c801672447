#!/usr/bin/env python3
"""Cost of the loader's checked reads (issue 11): VisualAtomDataset.read() (fstat of the validated fd,
then preadv: a truncated shard raises DatasetError instead of SIGBUS) against the memory map and copy
it replaced, per image, warm page cache, best of 5 passes. Synthetic datasets (NumPy), no torch.

    /usr/bin/python3 bench/checked_read.bench.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "test" / "python"))
from conftest import write_dataset  # noqa: E402
from vatom_fast import VisualAtomDataset  # noqa: E402


def per_image(fn, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def main() -> None:
    print("| image | checked read (fstat + preadv) | memmap + copy |")
    print("|---|---|---|")
    for size, n in ((512, 400), (64, 4000)):
        tmp = Path(tempfile.mkdtemp(prefix="vatom-bench-"))
        try:
            write_dataset(tmp / "ds", classes=n // 100, instances=100, size=size, shard_counts=(n // 2, n // 2))
            ds = VisualAtomDataset(tmp / "ds", output="numpy", channels=1)
            maps = [np.memmap(s.images_path, dtype=np.uint8, mode="r", offset=s.images_offset, shape=(s.count, size, size))
                    for s in ds.shards]

            def mapped(i: int) -> None:
                k, j = ds.locate(i)
                np.array(maps[k][j], copy=True), int(ds._shard_labels(k)[j])

            checked = per_image(ds.read, n)
            old = per_image(mapped, n)
            print(f"| {size}x{size} | {checked:.1f} us | {old:.1f} us |")
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
