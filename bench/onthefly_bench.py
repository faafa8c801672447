#!/usr/bin/env python3
"""On-the-fly rendering throughput (issue 10), all in one run on one dataset:

  1. DataLoader (batch 64, 2 workers, random order, one-channel uint8 tensors (1, S, S)) over
     (a) a manifest-only directory: every image rendered in the workers (VisualAtomDataset, auto);
     (b) the same dataset's .npy shards, memory-mapped, page cache warm;
     (c) the same images as PNGs decoded with PIL: the reference layout (`vatom-fast export --to png`,
         RGB with R = G = B, as render_VisualAtom.py writes) and one-channel PNGs (`--gray`).
  2. The batch path: ``ds.render_batch(batch_of_64_random_indices, threads=2)`` in this process (no
     workers) against ``build/vatom-native --threads 2`` render-only images/s on the same dataset.
  3. The reference stream's per-image replay cost: the same layout with ``--rng reference``, rendered
     in stream order vs in random order (one thread each).

    npm run build
    VATOM_FAST_LIBRARY=build/Release/libvatom_fast.so /usr/bin/python3 bench/onthefly_bench.py

Builds its datasets with the CLI in a temporary directory (default: the paper preset, 8 classes x 64
images at 512x512, seed 0) and removes them. Each DataLoader measurement is the best of ``--repeats``
passes, the readers alternating. Prints Markdown table rows for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
os.environ.setdefault("VATOM_FAST_LIBRARY", str(REPO / "build" / "Release" / "libvatom_fast.so"))
sys.path.insert(0, str(REPO / "bench"))
from reader_bench import PngFolder, cpu_name, one_pass  # noqa: E402
from vatom_fast import VisualAtomDataset  # noqa: E402

CLI = REPO / "dist" / "cli" / "main.js"
NATIVE = REPO / "build" / "vatom-native"


class OneChannelPngFolder(PngFolder):
    """reader_bench's ImageFolder of PNGs (RGB or gray), decoded with PIL into uint8 (1, S, S) tensors."""

    def __getitem__(self, i):
        path, label = self.samples[i]
        with Image.open(path) as im:
            a = np.array(im.convert("L"))
        return torch.from_numpy(a).unsqueeze(0), label


def cli(*args: str) -> None:
    subprocess.run(["node", str(CLI), *args], check=True)


def manifest_only(src: Path, dest: Path) -> Path:
    dest.mkdir()
    m = json.loads((src / "manifest.json").read_text())
    m["storage"], m["shards"] = "manifest", []
    (dest / "manifest.json").write_text(json.dumps(m))
    return dest


def native_render_only(classes: int, instances: int, seed: int, threads: int) -> float:
    """vatom-native's render-only images/s (the paper config), one run."""
    out = subprocess.run([str(NATIVE), "--classes", str(classes), "--instances", str(instances), "--seed", str(seed),
                          "--threads", str(threads)], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"render only .*images/s ([\d.]+)", out).group(1))


def batch_path(ds: VisualAtomDataset, order, batch: int, threads: int) -> float:
    """images/s of render_batch over ``order`` in batches, into one reused tensor."""
    S = ds.image_size
    out = torch.empty((batch, 1, S, S), dtype=torch.uint8)
    ds.render_batch(order[:batch], out=out, output="tensor", threads=threads)  # the handle, made once
    t0 = time.perf_counter()
    n = 0
    for b in range(0, len(order) - batch + 1, batch):
        ds.render_batch(order[b:b + batch], out=out, output="tensor", threads=threads)
        n += batch
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--instances", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2, help="passes over the images within one DataLoader")
    ap.add_argument("--tmp", default=None)
    args = ap.parse_args()
    if not NATIVE.is_file():
        sys.exit(f"{NATIVE} is missing: run `npm run build`")

    tmp = Path(tempfile.mkdtemp(prefix="vatom-onthefly-bench-", dir=args.tmp))
    try:
        counts = ["--classes", str(args.classes), "--instances", str(args.instances)]
        stored = tmp / "stored"
        cli("build", "--out", str(stored), "--preset", "visualatom-1k", *counts, "--seed", str(args.seed), "--quiet")
        cli("export", str(stored), "--to", "png", "--out", str(tmp / "png"), "--quiet")
        cli("export", str(stored), "--to", "png", "--gray", "--out", str(tmp / "png-gray"), "--quiet")
        mo = manifest_only(stored, tmp / "manifest-only")

        rendered = VisualAtomDataset(mo, output="tensor", channels=1)
        mapped = VisualAtomDataset(stored, output="tensor", channels=1)
        pngs = OneChannelPngFolder(str(tmp / "png"))
        gray_pngs = OneChannelPngFolder(str(tmp / "png-gray"))
        n = len(rendered)
        assert len(mapped) == len(pngs) == len(gray_pngs) == n
        for i in np.random.default_rng(1).choice(n, size=8, replace=False):
            a, b, c, d = rendered[int(i)], mapped[int(i)], pngs[int(i)], gray_pngs[int(i)]
            assert all(torch.equal(a[0], x[0]) for x in (b, c, d)), f"image {i} differs between the readers"

        rng = np.random.default_rng(args.seed)
        order = [i for _ in range(args.epochs) for i in rng.permutation(n).tolist()]
        readers = (("render", rendered), ("npy", mapped), ("png", pngs), ("png-gray", gray_pngs))
        times = {name: [] for name, _ in readers}
        for _ in range(args.repeats):
            for name, dset in readers:
                times[name].append(one_pass(dset, order, args.batch, args.workers))
        rate = {name: len(order) / min(t) for name, t in times.items()}

        batch_order = rng.permutation(n).tolist() * 2
        # Alternating, best of each: the machine's load changes from second to second.
        batch_rates, native_rates = [], []
        for _ in range(args.repeats):
            batch_rates.append(batch_path(rendered, batch_order, args.batch, 2))
            native_rates.append(native_render_only(args.classes, args.instances, args.seed, 2))
        batch_rate, native_rate = max(batch_rates), max(native_rates)

        # Reference stream: stream order vs random order, one thread, per image.
        ref = tmp / "reference"
        cli("build", "--out", str(ref), "--preset", "visualatom-1k", "--rng", "reference", *counts, "--quiet")
        ref_ds = VisualAtomDataset(manifest_only(ref, tmp / "reference-mo"), output="numpy", channels=1)
        seq_s, rnd_s = [], []
        for _ in range(args.repeats):
            ref_ds.close()
            t0 = time.perf_counter()
            for i in range(n):
                ref_ds.read(i)
            seq_s.append(time.perf_counter() - t0)
            ref_ds.close()
            t0 = time.perf_counter()
            for i in rng.permutation(n).tolist():
                ref_ds.read(i)
            rnd_s.append(time.perf_counter() - t0)
        seq_ms, rnd_ms = 1e3 * min(seq_s) / n, 1e3 * min(rnd_s) / n

        machine = f"{cpu_name()}, {os.cpu_count()} cores"
        print(f"<!-- {n} images 512x512 ({args.classes} classes x {args.instances}), {len(order)} reads per pass; "
              f"passes (s): " + ", ".join(f"{k} {['%.2f' % x for x in v]}" for k, v in times.items()) + " -->")
        print("| machine | on the fly | memmapped npy | PNG RGB + PIL | PNG gray + PIL | fly / npy | fly / PNG RGB "
              "| fly / PNG gray | batch path 2 thr | vatom-native 2 thr | batch / native |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {machine} | {rate['render']:,.0f} | {rate['npy']:,.0f} | {rate['png']:,.0f} | {rate['png-gray']:,.0f} | "
              f"{rate['render'] / rate['npy']:.2f}x | {rate['render'] / rate['png']:.1f}x | "
              f"{rate['render'] / rate['png-gray']:.1f}x | {batch_rate:,.0f} | {native_rate:,.0f} | "
              f"{100 * batch_rate / native_rate:.0f}% |")
        print()
        print("| machine | reference stream, stream order (ms/image) | random order (ms/image) | replay per image (ms) |")
        print("|---|---:|---:|---:|")
        print(f"| {machine} | {seq_ms:.2f} | {rnd_ms:.2f} | {rnd_ms - seq_ms:.2f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
