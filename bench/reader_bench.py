#!/usr/bin/env python3
"""Reader throughput (issue 4): VisualAtomDataset (.npy memmaps) vs decoding the same images as PNGs.

Takes a format-1 dataset built by the CLI, e.g.

    node dist/cli/main.js build --out /tmp/va --classes 10 --instances 100 --quiet
    python3 bench/reader_bench.py --dataset /tmp/va

exports its images to an ImageFolder tree of PNGs in a temporary directory (RGB, the reference
layout ``%05d/vertex_%04d_instance_%04d.png``, zlib level 6, as the reference script's PIL save), then
reads the same images in the same random order through a DataLoader (batch 64, 2 workers) with

  (a) VisualAtomDataset(output="tensor"): uint8 (3, S, S), no transform;
  (b) a tiny ImageFolder-like Dataset: PIL.Image.open(...).convert("RGB") -> uint8 (3, S, S) tensor.

Both passes run in this process, alternately, ``--repeats`` times; the best pass of each is reported
(both warm in the page cache unless ``--cold``, which drops this benchmark's own files from the
page cache with posix_fadvise before every pass). Prints a Markdown table row.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
from vatom_fast import VisualAtomDataset  # noqa: E402


class PngFolder(Dataset):
    """torchvision-free ImageFolder: class folders sorted by name, files sorted, PIL decoding."""

    def __init__(self, root: str):
        self.classes = sorted(d.name for d in os.scandir(root) if d.is_dir())
        self.samples = []
        for c, name in enumerate(self.classes):
            d = os.path.join(root, name)
            self.samples += [(os.path.join(d, f), c) for f in sorted(os.listdir(d)) if f.endswith(".png")]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB"))  # (S, S, 3) uint8
        return torch.from_numpy(a.transpose(2, 0, 1).copy()), label  # uint8 (3, S, S), like output="tensor"


# ------------------------------------------------------------------ export

_export_ds = None


def _export_init(root):
    global _export_ds
    _export_ds = VisualAtomDataset(root, output="numpy", channels=1)


def _export_one(job):
    i, path, level = job
    img, _ = _export_ds.read(i)
    Image.fromarray(img).convert("RGB").save(path, compress_level=level)
    return os.path.getsize(path)


def export_png_tree(ds: VisualAtomDataset, out: Path, indices, level: int, workers: int) -> int:
    """Write images ``indices`` of ``ds`` as out/%05d/vertex_%04d_instance_%04d.png; returns total bytes."""
    vertices = {p["class"]: p["vertices"] for p in ds.manifest.get("classParams", []) if "vertices" in p}
    jobs = []
    for i in indices:
        g = ds.global_index(i)
        c = ds.start_class + g // ds.instances
        d = out / f"{c:05d}"
        d.mkdir(parents=True, exist_ok=True)
        jobs.append((i, str(d / f"vertex_{vertices.get(c, 0):04d}_instance_{g % ds.instances:04d}.png"), level))
    with Pool(workers, initializer=_export_init, initargs=(ds.root,)) as pool:
        return sum(pool.imap(_export_one, jobs, chunksize=16))


# ------------------------------------------------------------------ measuring


def drop_from_page_cache(paths) -> None:
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def one_pass(dataset, order, batch: int, workers: int) -> float:
    """Seconds to read ``order`` through a fresh DataLoader (worker start-up included)."""
    loader = DataLoader(dataset, batch_size=batch, sampler=order, num_workers=workers)
    t0 = time.perf_counter()
    n = 0
    for imgs, labels in loader:
        assert imgs.dtype == torch.uint8 and imgs.dim() == 4 and imgs.shape[1] in (1, 3)
        n += imgs.shape[0]
    dt = time.perf_counter() - t0
    assert n == len(order)
    return dt


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, help="a format-1 dataset directory built by `vatom-fast build`")
    ap.add_argument("--images", type=int, default=0, help="how many images (the first N; default all)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="passes of each reader (best is reported)")
    ap.add_argument("--compress-level", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=4, help="passes over the images within one DataLoader")
    ap.add_argument("--cold", action="store_true", help="drop this benchmark's files from the page cache before each pass")
    ap.add_argument("--tmp", default=None, help="where to write the PNG tree (default: the system temp dir)")
    args = ap.parse_args()

    ds = VisualAtomDataset(args.dataset, output="tensor")
    n = len(ds) if args.images <= 0 else min(args.images, len(ds))
    S = ds.image_size
    tmp = Path(tempfile.mkdtemp(prefix="vatom-reader-bench-", dir=args.tmp))
    try:
        t0 = time.perf_counter()
        png_bytes = export_png_tree(ds, tmp, range(n), args.compress_level, max(1, os.cpu_count() or 1))
        export_s = time.perf_counter() - t0
        pngs = PngFolder(str(tmp))
        assert len(pngs) == n
        # same images, same labels (spot check; classes are folders in class order)
        for i in np.random.default_rng(1).choice(n, size=min(n, 8), replace=False):
            a, la = ds[int(i)]
            b, lb = pngs[int(i)]
            assert torch.equal(a, b) and lb == la - ds.classes[0], f"image {i} differs between the readers"

        # Random access, the same order for every reader; several epochs per DataLoader so that worker
        # start-up (about 0.1 s) does not dominate a small dataset.
        rng = np.random.default_rng(args.seed)
        order = [i for _ in range(args.epochs) for i in rng.permutation(n).tolist()]
        npy_files = [s.images_path for s in ds.shards] + [s.labels_path for s in ds.shards]
        png_files = [p for p, _ in pngs.samples]
        # One channel, expanded to three where the batch lands (x.cuda().expand(-1, 3, -1, -1) costs
        # nothing): the same pixels with a third of the bytes through the DataLoader.
        ds1 = VisualAtomDataset(args.dataset, output="tensor", channels=1)
        times = {"npy": [], "npy1": [], "png": []}
        for _ in range(args.repeats):
            for name, dset, files in (("npy", ds, npy_files), ("npy1", ds1, npy_files), ("png", pngs, png_files)):
                if args.cold:
                    drop_from_page_cache(files)
                times[name].append(one_pass(dset, order, args.batch, args.workers))
        reads = len(order)
        npy_rate = reads / min(times["npy"])
        npy1_rate = reads / min(times["npy1"])
        png_rate = reads / min(times["png"])
        npy_mb = sum(os.path.getsize(p) for p in npy_files) / 1e6 * n / len(ds)

        print(f"<!-- {n} images {S}x{S}; PNG export {export_s:.1f} s ({png_bytes / 1e6:.0f} MB PNG vs "
              f"{npy_mb:.0f} MB npy); passes (s): npy {['%.2f' % t for t in times['npy']]}, "
              f"png {['%.2f' % t for t in times['png']]} -->", file=sys.stderr)
        print("| machine | images | size | cache | batch | workers | VisualAtomDataset 3 ch (img/s) | 1 ch (img/s) "
              "| PNG + PIL (img/s) | ratio 3 ch | ratio 1 ch |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        print(f"| {cpu_name()}, {os.cpu_count()} cores | {n} | {S}x{S} | {'cold' if args.cold else 'warm'} | "
              f"{args.batch} | {args.workers} | {npy_rate:,.0f} | {npy1_rate:,.0f} | {png_rate:,.0f} | "
              f"{npy_rate / png_rate:.1f}x | {npy1_rate / png_rate:.1f}x |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
