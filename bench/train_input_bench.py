#!/usr/bin/env python3
"""Training input with the papers' full recipe, images/s delivered to the training loop, in one run:

  (a) PNG ImageFolder (the reference layout, `vatom-fast export --to png`) decoded by PIL, the recipe
      as torchvision transforms per image in DataLoader workers: RandomResizedCrop(224, bicubic),
      RandAugment(2 ops, magnitude 9 of 10), ToTensor, Normalize, RandomErasing(0.25, per-pixel
      noise), then mixup/cutmix and smoothed targets on the batch (the reference's pipeline);
  (b) the same per-image transforms in workers over images rendered on the fly (VisualAtomDataset,
      PIL output: what examples/pretrain.py did before TrainLoader);
  (c) vatom_fast.train.TrainLoader on the CPU (batches rendered and augmented by worker threads);
  (d) TrainLoader on CUDA, when a GPU is present (recipe on the GPU, rendering on CPU threads).

    npm run build
    VATOM_FAST_LIBRARY=build/Release/libvatom_fast.so /usr/bin/python3 bench/train_input_bench.py

Builds a dataset with the CLI in a temporary directory (default: the paper preset, 8 classes x 64
images at 512x512, seed 0) and removes it. Each input is started once (persistent DataLoader workers,
as timm's loader; one TrainLoader) and warmed up with 2 batches; each row is then the best of
``--repeats`` passes of ``--batches`` batches, the rows alternating (the machine's load changes from
second to second).
Prints Markdown table rows for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms as TV
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
os.environ.setdefault("VATOM_FAST_LIBRARY", str(REPO / "build" / "Release" / "libvatom_fast.so"))
sys.path.insert(0, str(REPO / "bench"))
from reader_bench import cpu_name  # noqa: E402
from vatom_fast import VisualAtomDataset  # noqa: E402
from vatom_fast.train import IMAGENET_MEAN, IMAGENET_STD, TrainLoader, soft_targets  # noqa: E402

CLI = REPO / "dist" / "cli" / "main.js"


def recipe_transform(size: int) -> TV.Compose:
    return TV.Compose([
        TV.RandomResizedCrop(size, interpolation=TV.InterpolationMode.BICUBIC),
        TV.RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=11, interpolation=TV.InterpolationMode.BILINEAR),
        TV.ToTensor(),
        TV.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        TV.RandomErasing(p=0.25, value="random"),
    ])


class PngRecipe(torch.utils.data.Dataset):
    """ImageFolder of PNGs, PIL decoding, the recipe per image."""

    def __init__(self, root: str, size: int) -> None:
        self.samples = []
        for c, name in enumerate(sorted(d.name for d in os.scandir(root) if d.is_dir())):
            d = os.path.join(root, name)
            self.samples += [(os.path.join(d, f), c) for f in sorted(os.listdir(d)) if f.endswith(".png")]
        self.transform = recipe_transform(size)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        with Image.open(path) as im:
            return self.transform(im.convert("RGB")), label


def mix_batch(x: torch.Tensor, y: torch.Tensor, classes: int, rng: np.random.Generator):
    """timm's Mixup in batch mode (mixup 0.8 / cutmix 1.0, switch 0.5, smoothing 0.1)."""
    if rng.random() < 0.5:
        lam = float(rng.beta(1.0, 1.0))
        s = x.shape[-1]
        cut = int(s * math.sqrt(1 - lam))
        cy, cx = rng.integers(0, s, 2)
        y0, y1 = np.clip([cy - cut // 2, cy + cut // 2], 0, s)
        x0, x1 = np.clip([cx - cut // 2, cx + cut // 2], 0, s)
        x[:, :, y0:y1, x0:x1] = x.flip(0)[:, :, y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (s * s)
    else:
        lam = float(rng.beta(0.8, 0.8))
        x = x * lam + x.flip(0) * (1 - lam)
    return x, soft_targets(y, classes, lam, 0.1)


def workers_stream(dataset, classes: int, batch: int, workers: int, seed: int):
    """Batches forever through one DataLoader with persistent workers (as timm's loader), mixed."""
    gen = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                                         drop_last=True, generator=gen, persistent_workers=True)
    rng = np.random.default_rng(seed)
    while True:
        for x, y in loader:
            x, t = mix_batch(x, y, classes, rng)
            assert x.shape[1] == 3 and t.shape[1] == classes
            yield x


def loader_stream(ds, batch: int, threads: int, device: str, seed: int):
    """Batches forever from one TrainLoader, epoch after epoch."""
    loader = TrainLoader(ds, batch, seed=seed, device=device, threads=threads)
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        for x, t in loader:
            assert x.shape[1] == 3 and t.shape[1] == ds.num_classes
            yield x
        epoch += 1


def timed(stream, batches: int, cuda: bool = False) -> float:
    """images/s of the next ``batches`` batches of a running stream."""
    t0 = time.perf_counter()
    n = sum(next(stream).shape[0] for _ in range(batches))
    if cuda:
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


class RenderedPil(torch.utils.data.Dataset):
    def __init__(self, ds: VisualAtomDataset, size: int) -> None:
        self.ds, self.transform = ds, recipe_transform(size)

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        img, label = self.ds[i]
        return self.transform(img), label


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--instances", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=6, help="batches per pass")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers of (a) and (b); threads of (c)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--tmp", default=None)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vatom-train-bench-", dir=args.tmp))
    try:
        stored = tmp / "stored"
        subprocess.run(["node", str(CLI), "build", "--out", str(stored), "--preset", "visualatom-1k", "--classes",
                        str(args.classes), "--instances", str(args.instances), "--seed", str(args.seed), "--quiet"],
                       check=True)
        subprocess.run(["node", str(CLI), "export", str(stored), "--to", "png", "--out", str(tmp / "png"), "--quiet"],
                       check=True)
        shutil.rmtree(stored)
        rendered = VisualAtomDataset.preset("visualatom-1k", seed=args.seed, classes=args.classes,
                                            instances=args.instances)
        assert len(rendered) == args.classes * args.instances
        pngs = PngRecipe(str(tmp / "png"), args.size)
        fly = RenderedPil(VisualAtomDataset.preset("visualatom-1k", seed=args.seed, classes=args.classes,
                                                   instances=args.instances, output="pil", channels=3), args.size)
        streams = {
            "a": workers_stream(pngs, args.classes, args.batch, args.workers, args.seed),
            "b": workers_stream(fly, args.classes, args.batch, args.workers, args.seed),
            "c": loader_stream(rendered, args.batch, args.workers, "cpu", args.seed),
        }
        if torch.cuda.is_available():
            streams["d"] = loader_stream(rendered, args.batch, args.workers, "cuda", args.seed)
        for k, stream in streams.items():  # start-up (workers, threads, buffers) is not what we measure
            timed(stream, 2, k == "d")
        rates = {k: [] for k in streams}
        for _ in range(args.repeats):
            for k, stream in streams.items():
                rates[k].append(timed(stream, args.batches, k == "d"))
        best = {k: max(v) for k, v in rates.items()}
        machine = f"{cpu_name()}, {len(os.sched_getaffinity(0))} cores"
        print(f"<!-- {args.batches} x {args.batch} images per pass, best of {args.repeats}; passes (img/s): "
              + ", ".join(f"{k} {['%.0f' % x for x in v]}" for k, v in rates.items()) + " -->")
        names = {"a": f"(a) PNG + torchvision recipe, {args.workers} workers",
                 "b": f"(b) on the fly + torchvision recipe, {args.workers} workers",
                 "c": f"(c) TrainLoader CPU, {args.workers} threads",
                 "d": f"(d) TrainLoader CUDA ({torch.cuda.get_device_name() if torch.cuda.is_available() else ''}), "
                      f"{args.workers} CPU threads"}
        print("| machine | input | images/s | vs (a) |")
        print("|---|---|---:|---:|")
        for k, v in best.items():
            print(f"| {machine} | {names[k]} | {v:,.0f} | {v / best['a']:.1f}x |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
