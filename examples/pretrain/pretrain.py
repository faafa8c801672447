#!/usr/bin/env python3
"""Pre-train a ViT on a vatom-fast dataset with the VisualAtom paper's recipe.

One GPU:    python3 pretrain.py --data DATA --out RUN
Several:    torchrun --nproc-per-node 8 pretrain.py --data DATA --out RUN
CPU smoke:  python3 pretrain.py --data DATA --out RUN --smoke

Rerunning with the same --out resumes from RUN/checkpoint.pt (written atomically every
--checkpoint-every steps and at the end of every epoch). Every random draw of a step is a function of
(seed, rank, step) and every sample's augmentation a function of (seed, epoch, index), so a job killed
at any point continues with the same samples and, on CPU, the same weights bit for bit.

Needs PyTorch and torchvision; uses timm's ViT when timm is installed (--impl).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T
from torchvision.models.vision_transformer import EncoderBlock, VisionTransformer

try:
    import vatom_fast
except ImportError:  # running from a source checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
    import vatom_fast

from vatom_fast import ShardWindowSampler, VisualAtomDataset, holdout_split

PROG = "pretrain.py"

# The paper's recipe (official repository, VisualAtom-21k with ViT-B: timm's train.py with these
# settings on 128 GPUs x 64 images). VisualAtom-1k with ViT-T uses 300 epochs.
RECIPE: Dict[str, Any] = {
    "model": "vit_base",
    "impl": "auto",
    "image_size": 224,
    "crop_scale": [0.08, 1.0],
    "crop_ratio": [0.75, 4 / 3],
    "epochs": None,  # 90 for vit_base (21k), 300 otherwise (1k)
    "batch_size": 8192,  # global: all ranks and accumulation steps together
    "accum_steps": 1,
    "lr": 1e-3,
    "min_lr": 1e-5,
    "warmup_lr": 1e-6,
    "warmup_steps": 5000,
    "weight_decay": 0.05,
    "clip_grad": None,
    "label_smoothing": 0.1,
    "drop_path": 0.1,
    "randaug_ops": 2,
    "randaug_m": 9.0,
    "randaug_mstd": 0.5,
    "mixup": 0.8,
    "cutmix": 1.0,
    "mix_switch_prob": 0.5,
    "reprob": 0.25,
    "amp": "auto",
    "holdout": 10,
    "window_images": None,
    "workers": 8,
    "device": "auto",
    "threads": None,
    "seed": 0,
    "checkpoint_every": 1000,
    "log_every": 0,
    "eval_batch_size": None,
    "trace_samples": False,
}

# --smoke: a small ViT at 32x32 that learns a 10-class build on two CPU cores in well under a
# minute (bench/RESULTS.md). Heavy regularisation (mixup, RandAugment, drop-path) is off: it only
# pays off over long schedules.
SMOKE: Dict[str, Any] = {
    "model": "vit_micro",
    "impl": "torchvision",
    "image_size": 32,
    "crop_scale": [0.35, 1.0],
    "epochs": 50,
    "batch_size": 32,
    "lr": 1e-3,
    "min_lr": 1e-5,
    "warmup_lr": 1e-5,
    "warmup_steps": 10,
    "drop_path": 0.0,
    "randaug_ops": 0,
    "mixup": 0.0,
    "cutmix": 0.0,
    "reprob": 0.0,
    "holdout": 8,
    "workers": 0,
    "device": "cpu",
    "threads": 1,
    "checkpoint_every": 10,
}

MODELS = {
    # name: (patch, width, depth, heads, timm name)
    "vit_micro": (8, 96, 4, 3, None),
    "vit_tiny": (16, 192, 12, 3, "vit_tiny_patch16_224"),  # DeiT-T
    "vit_small": (16, 384, 12, 6, "vit_small_patch16_224"),
    "vit_base": (16, 768, 12, 12, "vit_base_patch16_224"),
}

# Settings that may change between a run and its resumption (they do not change what is computed).
OPERATIONAL = {"workers", "threads", "checkpoint_every", "log_every", "trace_samples", "eval_batch_size"}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class UsageError(Exception):
    """A bad option value: reported as one line, exit status 2, before any work."""


# ---------------------------------------------------------------------------------------- config

def _pair(text: str) -> List[float]:
    parts = text.split(":")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected MIN:MAX, got {text!r}")
    return [float(p) for p in parts]


NONE = "none"  # an optional setting given as "none" (argparse's None means "not given")


def _optional_int(text: str) -> Any:
    return NONE if text == NONE else int(text)


def _optional_float(text: str) -> Any:
    return NONE if text == NONE else float(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    a = p.add_argument
    a("--data", required=True, help="vatom-fast dataset directory (stored shards or manifest-only)")
    a("--out", required=True, help="run directory: config, checkpoint, log.jsonl, model.pt; rerun to resume")
    a("--smoke", action="store_true", help="the small CPU configuration of the tests (flags still override it)")
    a("--model", choices=sorted(MODELS), help="vit_tiny = DeiT-T, vit_base = ViT-B/16 (default vit_base)")
    a("--impl", choices=["auto", "torchvision", "timm"], help="model code: timm when installed (auto)")
    a("--image-size", type=int, help="training crop side (default 224)")
    a("--crop-scale", type=_pair, help="random-resized-crop area range MIN:MAX (default 0.08:1)")
    a("--crop-ratio", type=_pair, help="random-resized-crop aspect range MIN:MAX (default 0.75:1.333)")
    a("--epochs", type=int, help="default 90 for vit_base (VisualAtom-21k), 300 otherwise (1k)")
    a("--batch-size", type=int, help="global batch: all ranks and accumulation steps (default 8192)")
    a("--accum-steps", type=int, help="gradient accumulation steps per optimizer step (default 1)")
    a("--lr", type=float, help="peak learning rate, not scaled by batch size (default 1e-3)")
    a("--min-lr", type=float, help="floor of the cosine schedule (default 1e-5)")
    a("--warmup-lr", type=float, help="learning rate at step 0 of the linear warm-up (default 1e-6)")
    a("--warmup-steps", type=int, help="warm-up iterations (default 5000)")
    a("--weight-decay", type=float, help="AdamW weight decay, not on biases, norms, embeddings (default 0.05)")
    a("--clip-grad", type=_optional_float, help="clip the gradient norm to this (default none)")
    a("--label-smoothing", type=float, help="default 0.1")
    a("--drop-path", type=float, help="stochastic depth rate of the last block, linear over depth (default 0.1)")
    a("--randaug-ops", type=int, help="RandAugment ops per image, 0 = off (default 2)")
    a("--randaug-m", type=float, help="RandAugment magnitude on timm's 0..10 scale (default 9)")
    a("--randaug-mstd", type=float, help="std of the per-image magnitude (default 0.5)")
    a("--mixup", type=float, help="mixup alpha, 0 = off (default 0.8)")
    a("--cutmix", type=float, help="cutmix alpha, 0 = off (default 1.0)")
    a("--mix-switch-prob", type=float, help="chance of cutmix rather than mixup when both are on (default 0.5)")
    a("--reprob", type=float, help="random erasing probability (default 0.25)")
    a("--amp", choices=["auto", "none", "fp16", "bf16"], help="mixed precision; auto: bf16 (fp16 without bf16 support) on CUDA, none on CPU")
    a("--holdout", type=int, help="held-out images per class, the last instances of every class (default 10)")
    a("--window-images", type=_optional_int,
      help="ShardWindowSampler window: images shuffled together (default: 32 classes' worth, at least 4 shards)")
    a("--workers", type=int, help="DataLoader workers per process (default 8)")
    a("--device", choices=["auto", "cpu", "cuda"], help="auto: cuda when available")
    a("--threads", type=_optional_int, help="torch.set_num_threads (default: PyTorch's choice)")
    a("--seed", type=int, help="default 0")
    a("--checkpoint-every", type=int, help="optimizer steps between checkpoints (default 1000)")
    a("--log-every", type=int, help="also log a JSON line every N steps, 0 = per epoch only (default 0)")
    a("--eval-batch-size", type=_optional_int, help="held-out batch per process (default: the training micro-batch)")
    a("--trace-samples", action="store_const", const=True,
      help="write every step's sample indices to RUN/samples-rank<R>.jsonl (to check the split over ranks)")
    return p


def resolve_config(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    args = build_parser().parse_args(argv)
    cfg = dict(RECIPE)
    if args.smoke:
        cfg.update(SMOKE)
    for key, value in vars(args).items():
        if key not in ("data", "out", "smoke") and value is not None:
            cfg[key] = None if value == NONE else value
    if cfg["epochs"] is None:
        cfg["epochs"] = 90 if cfg["model"] == "vit_base" else 300
    cfg["data"] = os.path.abspath(args.data)
    cfg["out"] = os.path.abspath(args.out)
    cfg["smoke"] = bool(args.smoke)
    validate_config(cfg)
    return cfg


def validate_config(cfg: Dict[str, Any]) -> None:
    def need(cond: bool, flag: str, allowed: str) -> None:
        if not cond:
            raise UsageError(f"--{flag} must be {allowed}, got {cfg[flag.replace('-', '_')]!r}")

    for key in ("image_size", "epochs", "batch_size", "accum_steps", "checkpoint_every"):
        need(cfg[key] >= 1, key.replace("_", "-"), "an integer >= 1")
    for key in ("warmup_steps", "workers", "randaug_ops", "log_every", "holdout", "seed"):
        need(cfg[key] >= 0, key.replace("_", "-"), "an integer >= 0")
    for key in ("lr", "min_lr", "warmup_lr"):
        need(cfg[key] >= 0 and math.isfinite(cfg[key]), key.replace("_", "-"), "a finite number >= 0")
    need(cfg["lr"] > 0, "lr", "a number > 0")
    for key in ("weight_decay", "mixup", "cutmix", "randaug_mstd"):
        need(cfg[key] >= 0 and math.isfinite(cfg[key]), key.replace("_", "-"), "a finite number >= 0")
    for key in ("label_smoothing", "mix_switch_prob", "reprob"):
        need(0 <= cfg[key] <= 1, key.replace("_", "-"), "a number in [0, 1]")
    need(0 <= cfg["drop_path"] < 1, "drop-path", "a number in [0, 1)")
    need(0 <= cfg["randaug_m"] <= 10, "randaug-m", "a number in [0, 10]")
    need(0 < cfg["crop_scale"][0] <= cfg["crop_scale"][1] <= 1, "crop-scale", "MIN:MAX with 0 < MIN <= MAX <= 1")
    need(0 < cfg["crop_ratio"][0] <= cfg["crop_ratio"][1], "crop-ratio", "MIN:MAX with 0 < MIN <= MAX")
    need(cfg["clip_grad"] is None or cfg["clip_grad"] > 0, "clip-grad", "a number > 0 or none")
    need(cfg["window_images"] is None or cfg["window_images"] >= 1, "window-images", "an integer >= 1 or none")
    need(cfg["threads"] is None or cfg["threads"] >= 1, "threads", "an integer >= 1 or none")
    need(cfg["eval_batch_size"] is None or cfg["eval_batch_size"] >= 1, "eval-batch-size", "an integer >= 1 or none")
    patch = MODELS[cfg["model"]][0]
    need(cfg["image_size"] % patch == 0, "image-size", f"a multiple of {cfg['model']}'s patch size {patch}")
    if cfg["impl"] == "timm":
        if MODELS[cfg["model"]][4] is None:
            raise UsageError(f"--impl timm has no {cfg['model']}: use --impl torchvision")
        try:
            import timm  # noqa: F401
        except ImportError:
            raise UsageError("--impl timm needs timm installed (pip install timm), or use --impl torchvision") from None
    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda, but PyTorch sees no CUDA device (use --device cpu)")


def training_identity(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The settings a resumed run must share with the one that wrote the checkpoint."""
    return {k: v for k, v in cfg.items() if k not in OPERATIONAL and k not in ("out", "smoke")}


# ---------------------------------------------------------------------------------------- helpers

def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from any tuple: the same on every machine and Python (no hash randomisation)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save through a temporary file, fsync and rename: a kill leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class OneShard:
    """Stands in for a dataset without shard files (rendered on the fly): one 'shard' of everything,
    since reads have no locality to keep."""

    def __init__(self, n: int) -> None:
        self.shard_sizes = (n,)
        self.n = n

    def __len__(self) -> int:
        return self.n


# ---------------------------------------------------------------------------------------- model

def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero a residual branch for a random part of the batch, rescale the rest."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask.div_(keep)


class DropPathEncoderBlock(EncoderBlock):
    """torchvision's EncoderBlock with stochastic depth on both residual branches (as timm's ViT).

    Existing blocks get this class in place (``block.__class__ = ...``), so parameter names stay
    torchvision's and the weights load into a plain ``VisionTransformer`` for fine-tuning.
    """

    drop_prob: float = 0.0

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - torchvision's name
        x = self.ln_1(input)
        x, _ = self.self_attention(query=x, key=x, value=x, need_weights=False)
        x = input + drop_path(self.dropout(x), self.drop_prob, self.training)
        y = self.mlp(self.ln_2(x))
        return x + drop_path(y, self.drop_prob, self.training)


def build_model(cfg: Dict[str, Any], num_classes: int) -> Tuple[nn.Module, str]:
    patch, width, depth, heads, timm_name = MODELS[cfg["model"]]
    impl = cfg["impl"]
    if impl == "auto":
        impl = "torchvision"
        if timm_name is not None:
            try:
                import timm  # noqa: F401
                impl = "timm"
            except ImportError:
                pass
    if impl == "timm":
        import timm

        model = timm.create_model(timm_name, pretrained=False, num_classes=num_classes,
                                  img_size=cfg["image_size"], drop_path_rate=cfg["drop_path"])
        return model, "timm"
    model = VisionTransformer(image_size=cfg["image_size"], patch_size=patch, num_layers=depth, num_heads=heads,
                              hidden_dim=width, mlp_dim=4 * width, num_classes=num_classes)
    for i, block in enumerate(model.encoder.layers):
        block.__class__ = DropPathEncoderBlock
        block.drop_prob = cfg["drop_path"] * i / max(depth - 1, 1)  # timm's linear rule
    return model, "torchvision"


def param_groups(model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
    """No weight decay on biases, norms, position embeddings and the class token (as timm)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim <= 1 or any(k in name for k in ("pos_embed", "class_token", "cls_token"))
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step: int, cfg: Dict[str, Any], total_steps: int) -> float:
    """Linear warm-up from warmup_lr, then cosine to min_lr, per iteration."""
    lr, warm = cfg["lr"], cfg["warmup_steps"]
    if step < warm:
        return cfg["warmup_lr"] + (lr - cfg["warmup_lr"]) * step / warm
    span = max(total_steps - warm, 1)
    t = min(step - warm, span) / span
    return cfg["min_lr"] + 0.5 * (lr - cfg["min_lr"]) * (1 + math.cos(math.pi * t))


# ---------------------------------------------------------------------------------------- data

class RandAugmentMstd(T.RandAugment):
    """torchvision's RandAugment with timm's magnitude noise: each image draws its magnitude from
    N(m, mstd) on timm's 0..10 scale (101 bins, so 9 means 90% of each op's range, as timm's m9)."""

    def __init__(self, num_ops: int, m: float, mstd: float) -> None:
        super().__init__(num_ops=num_ops, magnitude=round(m * 10), num_magnitude_bins=101,
                         interpolation=T.InterpolationMode.BILINEAR, fill=[0])
        self.m, self.mstd = m, mstd

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        m = self.m
        if self.mstd > 0:
            m = float(torch.normal(torch.tensor(m), torch.tensor(self.mstd)))
        self.magnitude = int(round(min(max(m, 0.0), 10.0) * 10))
        return super().forward(img)


def train_transform(cfg: Dict[str, Any]) -> T.Compose:
    """Per image, in the DataLoader workers, on the one stored channel (uint8, 1 x S x S)."""
    ops: List[Any] = [T.RandomResizedCrop(cfg["image_size"], scale=tuple(cfg["crop_scale"]), ratio=tuple(cfg["crop_ratio"]),
                                          interpolation=T.InterpolationMode.BICUBIC, antialias=True)]
    if cfg["randaug_ops"] > 0:
        ops.append(RandAugmentMstd(cfg["randaug_ops"], cfg["randaug_m"], cfg["randaug_mstd"]))
    return T.Compose(ops)


class TrainView(torch.utils.data.Dataset):
    """Items are (epoch, index) pairs; the image's augmentation draws from a generator seeded by
    (seed, epoch, index), so it does not depend on worker count, prefetching or restarts."""

    def __init__(self, ds: VisualAtomDataset, transform: Any, seed: int) -> None:
        self.ds, self.transform, self.seed = ds, transform, seed

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, key: Tuple[int, int]) -> Tuple[torch.Tensor, int, int]:
        epoch, index = key
        img, label = self.ds[index]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, "augment", epoch, index))
            img = self.transform(img)
        return img, label, index


class EvalView(torch.utils.data.Dataset):
    def __init__(self, ds: VisualAtomDataset, indices: np.ndarray, size: int) -> None:
        self.ds, self.indices = ds, indices
        self.resize = T.Resize(size, interpolation=T.InterpolationMode.BICUBIC, antialias=True)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> Tuple[torch.Tensor, int]:
        img, label = self.ds[int(self.indices[k])]
        return self.resize(img), label


class EpochBatches:
    """Batches of (epoch, index) keys from the sampler's iteration, at most ``limit`` full batches."""

    def __init__(self, sampler: ShardWindowSampler, batch: int, limit: int) -> None:
        self.sampler, self.batch, self.limit = sampler, batch, limit

    def __len__(self) -> int:
        return self.limit

    def __iter__(self) -> Iterator[List[Tuple[int, int]]]:
        epoch, out, done = self.sampler.epoch, [], 0
        for i in self.sampler:
            if done == self.limit:
                return
            out.append((epoch, i))
            if len(out) == self.batch:
                yield out
                out, done = [], done + 1


class BatchAugment:
    """On the device, per batch: 1 -> 3 channels, normalisation, random erasing, mixup / cutmix and
    the smoothed soft targets (timm's Mixup in 'batch' mode). Draws only from the generators it is
    given, which the training loop seeds per step."""

    def __init__(self, cfg: Dict[str, Any], num_classes: int, device: torch.device) -> None:
        self.cfg, self.num_classes = cfg, num_classes
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def images(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().div_(255).expand(-1, 3, -1, -1)
        return (x - self.mean) / self.std

    def erase(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """timm's RandomErasing (mode 'pixel', one region): area 2%..33%, aspect 0.3..3.3, 10 tries."""
        p = self.cfg["reprob"]
        if p == 0:
            return x
        B, C, H, W = x.shape
        dev, tries = x.device, 10
        u = torch.rand((B, tries, 5), generator=gen, device=dev)
        area = H * W * (0.02 + u[..., 0] * (1 / 3 - 0.02))
        aspect = torch.exp(math.log(0.3) + u[..., 1] * (math.log(1 / 0.3) - math.log(0.3)))
        h = torch.round(torch.sqrt(area * aspect))
        w = torch.round(torch.sqrt(area / aspect))
        ok = (h < H) & (w < W) & (h >= 1) & (w >= 1)
        first = torch.where(ok.any(1), ok.float().argmax(1), torch.full((B,), -1, device=dev))
        pick = first.clamp(min=0).unsqueeze(1)
        h, w = h.gather(1, pick).squeeze(1), w.gather(1, pick).squeeze(1)
        top = torch.floor(u[..., 2].gather(1, pick).squeeze(1) * (H - h + 1))
        left = torch.floor(u[..., 3].gather(1, pick).squeeze(1) * (W - w + 1))
        apply = (u[:, 0, 4] < p) & (first >= 0)
        rows = torch.arange(H, device=dev).view(1, H, 1)
        cols = torch.arange(W, device=dev).view(1, 1, W)
        box = ((rows >= top.view(B, 1, 1)) & (rows < (top + h).view(B, 1, 1))
               & (cols >= left.view(B, 1, 1)) & (cols < (left + w).view(B, 1, 1)) & apply.view(B, 1, 1))
        noise = torch.randn(x.shape, generator=gen, device=dev, dtype=x.dtype)
        return torch.where(box.unsqueeze(1), noise, x)

    def targets(self, y: torch.Tensor, lam: float) -> torch.Tensor:
        off = self.cfg["label_smoothing"] / self.num_classes
        on = 1.0 - self.cfg["label_smoothing"] + off
        t = torch.full((y.shape[0], self.num_classes), off, device=y.device)
        t.scatter_(1, y.view(-1, 1), on)
        return t if lam == 1.0 else t * lam + t.flip(0) * (1.0 - lam)

    def mix(self, x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator) -> Tuple[torch.Tensor, torch.Tensor]:
        mixup, cutmix = self.cfg["mixup"], self.cfg["cutmix"]
        lam = 1.0
        if mixup > 0 or cutmix > 0:
            use_cutmix = cutmix > 0 and (mixup == 0 or rng.random() < self.cfg["mix_switch_prob"])
            lam = float(rng.beta(cutmix, cutmix) if use_cutmix else rng.beta(mixup, mixup))
            if use_cutmix:
                H, W = x.shape[-2:]
                cut = math.sqrt(1.0 - lam)
                ch, cw = int(H * cut), int(W * cut)
                cy, cx = int(rng.integers(0, H)), int(rng.integers(0, W))
                y0, y1 = np.clip([cy - ch // 2, cy + ch // 2], 0, H)
                x0, x1 = np.clip([cx - cw // 2, cx + cw // 2], 0, W)
                x = x.clone()
                x[:, :, y0:y1, x0:x1] = x.flip(0)[:, :, y0:y1, x0:x1]
                lam = 1.0 - float((y1 - y0) * (x1 - x0)) / (H * W)
            else:
                x = x * lam + x.flip(0) * (1.0 - lam)
        return x, self.targets(y, lam)


# ---------------------------------------------------------------------------------------- training

def setup_distributed(cfg: Dict[str, Any]) -> Tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = cfg["device"] == "cuda" or (cfg["device"] == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world > 1:
        dist.init_process_group("nccl" if use_cuda else "gloo")
        return dist.get_rank(), dist.get_world_size(), device
    return 0, 1, device


def all_sum(values: List[float], device: torch.device, world: int) -> List[float]:
    if world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def rng_states(device: torch.device) -> Dict[str, Any]:
    """Every random generator's state, as tensors and plain values (loadable with weights_only)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    states = {"torch": torch.get_rng_state(),
              "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
              "python": [version, list(internal), gauss_next]}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def set_rng_states(states: Dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


def evaluate(model: nn.Module, loader: Any, aug: BatchAugment, device: torch.device, amp: Any) -> Tuple[float, float]:
    model.eval()
    correct = seen = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with amp():
                logits = model(aug.images(x))
            correct += int((logits.argmax(1) == y).sum())
            seen += int(y.shape[0])
    model.train()
    return float(correct), float(seen)


def emit(line: Dict[str, Any], log_path: Path) -> None:
    text = json.dumps(line)
    print(text, flush=True)
    with open(log_path, "a") as f:
        f.write(text + "\n")


def train(cfg: Dict[str, Any]) -> int:
    if cfg["threads"] is not None:
        torch.set_num_threads(cfg["threads"])
    out = Path(cfg["out"])

    try:
        ds = VisualAtomDataset(cfg["data"], output="tensor", channels=1, relative_labels=True)
    except (ValueError, OSError) as e:
        raise UsageError(f"--data {cfg['data']}: {e}") from None
    if cfg["holdout"] >= ds.instances:
        raise UsageError(f"--holdout must be below the dataset's {ds.instances} instances per class, got {cfg['holdout']}")
    train_idx, held_idx = holdout_split(ds, cfg["holdout"])

    rank, world, device = setup_distributed(cfg)
    accum = cfg["accum_steps"]
    if cfg["batch_size"] % (world * accum):
        raise UsageError(f"--batch-size must be a multiple of world size x --accum-steps ({world} x {accum}), got {cfg['batch_size']}")
    micro = cfg["batch_size"] // (world * accum)  # images per forward pass on one rank
    per_rank_step = micro * accum
    sizes = tuple(getattr(ds, "shard_sizes", ()) or ())
    layout = ds if sizes and sum(sizes) == len(ds) else OneShard(len(ds))
    # A window of few classes gives batches of few classes, which stalls training (batches drawn from
    # 4 classes of 10 keep a small ViT at chance for 200 steps); 32 classes' worth mixes well.
    window = cfg["window_images"] or max(4 * max(layout.shard_sizes), 32 * ds.instances)
    sampler = ShardWindowSampler(layout, window_images=window, seed=cfg["seed"],
                                 num_replicas=world, rank=rank, indices=train_idx)
    steps_per_epoch = sampler.num_samples // per_rank_step
    if steps_per_epoch == 0:
        raise UsageError(f"--batch-size {cfg['batch_size']} is larger than an epoch ({len(train_idx)} training images)")
    total_steps = steps_per_epoch * cfg["epochs"]

    amp_mode = cfg["amp"]
    if amp_mode == "auto":
        amp_mode = "none" if device.type != "cuda" else ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp_mode)

    def amp():
        return torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None)

    torch.manual_seed(derive_seed(cfg["seed"], "init"))  # the same initial weights on every rank
    model, impl = build_model(cfg, ds.num_classes)
    model.to(device)
    optimizer = torch.optim.AdamW(param_groups(model, cfg["weight_decay"]), lr=cfg["lr"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_at(s, cfg, total_steps) / cfg["lr"])
    scaler = torch.cuda.amp.GradScaler(enabled=amp_mode == "fp16")
    ddp = (nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
           if world > 1 else model)

    resolved = dict(cfg, amp=amp_mode, impl=impl, world_size=world, micro_batch=micro, steps_per_epoch=steps_per_epoch,
                    total_steps=total_steps, classes=ds.num_classes, train_images=len(train_idx),
                    heldout_images=len(held_idx), image_source=ds.image_size,
                    window_images=sampler.window_images, device=str(device))
    ckpt_path = out / "checkpoint.pt"
    # the dataset by what it holds, not where it lies (a moved dataset still resumes)
    dataset_id = {"images": len(ds), "classes": ds.num_classes, "instances": ds.instances,
                  "image_source": ds.image_size, "dataset_seed": ds.manifest.get("seed")}
    identity = training_identity(dict(cfg, impl=impl, amp=amp_mode, world_size=world, data=dataset_id))
    state = None
    if ckpt_path.exists():
        # A checkpoint holds only tensors and plain values, so PyTorch 2 loads it as data, never code.
        # PyTorch 1.13's weights-only loader cannot read floats: there it is an ordinary pickle.
        state = torch.load(ckpt_path, map_location="cpu", weights_only=int(torch.__version__.split(".")[0]) >= 2)
        diff = sorted(k for k in set(identity) | set(state["identity"]) if identity.get(k) != state["identity"].get(k))
        if diff:
            k = diff[0]
            raise UsageError(f"--out {cfg['out']} holds a run with {k}={state['identity'].get(k)!r}, this run has "
                             f"{k}={identity.get(k)!r}: use the same settings to resume, or another --out")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        print(json.dumps({"config": resolved}, indent=1), flush=True)
        atomic_write_text(out / "config.json", json.dumps(resolved, indent=2) + "\n")
    log_path = out / "log.jsonl"

    step, epoch, step_in_epoch = 0, 0, 0
    epoch_stats = [0.0, 0.0, 0.0]  # loss sum, images, seconds: this epoch so far, all ranks
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        sampler.load_state_dict(state["sampler"])
        set_rng_states(state["rng"][rank], device)
        step, epoch_stats = state["step"], list(state["epoch_stats"])
        epoch = sampler.epoch
        step_in_epoch = state["sampler"]["offset"] // (world * per_rank_step)
        if rank == 0:
            print(f"{PROG}: resuming {ckpt_path} at step {step} (epoch {epoch}, step {step_in_epoch} of it)",
                  file=sys.stderr, flush=True)

    def save(next_epoch_start: bool) -> None:
        if next_epoch_start:
            sampler.set_epoch(epoch + 1)
            sstate = sampler.state_dict(consumed=0)
        else:
            # consumed counts from where this epoch's iteration started (a resumed one starts midway)
            sstate = sampler.state_dict(consumed=(step_in_epoch - iter_start) * per_rank_step)
        states = [None] * world
        mine = rng_states(device)
        if world > 1:
            dist.all_gather_object(states, mine)
        else:
            states = [mine]
        if rank == 0:
            atomic_save({"identity": identity, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "sampler": sstate,
                         "rng": states, "step": step, "epoch_stats": epoch_stats}, ckpt_path)

    aug = BatchAugment(cfg, ds.num_classes, device)
    view = TrainView(ds, train_transform(cfg), cfg["seed"])
    eval_view = EvalView(ds, held_idx[rank::world], cfg["image_size"])
    loader_gen = torch.Generator().manual_seed(derive_seed(cfg["seed"], "loader", rank))  # keeps the global RNG untouched
    eval_loader = torch.utils.data.DataLoader(eval_view, batch_size=cfg["eval_batch_size"] or micro,
                                              num_workers=cfg["workers"], pin_memory=device.type == "cuda",
                                              generator=loader_gen)
    trace = open(out / f"samples-rank{rank}.jsonl", "a") if cfg["trace_samples"] else None
    # SIGTERM (Slurm or Kubernetes preemption, torchrun passes it on): finish the step, checkpoint, exit
    stop = {"requested": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
    model.train()
    stopping = 0.0

    while epoch < cfg["epochs"]:
        sampler.set_epoch(epoch)
        left = steps_per_epoch - step_in_epoch
        iter_start = step_in_epoch
        loader = torch.utils.data.DataLoader(view, batch_sampler=EpochBatches(sampler, micro, left * accum),
                                             num_workers=cfg["workers"], pin_memory=device.type == "cuda",
                                             generator=loader_gen, persistent_workers=False)
        batches = iter(loader)
        t0 = time.perf_counter()
        for _ in range(left):
            torch.manual_seed(derive_seed(cfg["seed"], "step", rank, step))  # drop-path
            gen = torch.Generator(device=device).manual_seed(derive_seed(cfg["seed"], "erase", rank, step))
            mix_rng = np.random.default_rng(derive_seed(cfg["seed"], "mix", rank, step))
            loss_sum, indices = 0.0, []
            for a in range(accum):
                x, y, idx = next(batches)
                indices += idx.tolist()
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                x, target = aug.mix(aug.erase(aug.images(x), gen), y, mix_rng)
                sync = a == accum - 1 or world == 1
                ctx = ddp.no_sync() if not sync else contextlib.nullcontext()
                with ctx:
                    with amp():
                        logits = ddp(x)
                    loss = torch.sum(-target * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
                    scaler.scale(loss / accum).backward()
                loss_sum += float(loss) * y.shape[0]
            if cfg["clip_grad"] is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_grad"])
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1
            step_in_epoch += 1
            if trace is not None:
                trace.write(json.dumps({"epoch": epoch, "step": step, "indices": indices}) + "\n")
                trace.flush()
            loss_total, n_total, stopping = all_sum([loss_sum, float(per_rank_step), float(stop["requested"])],
                                                    device, world)
            epoch_stats[0] += loss_total
            epoch_stats[1] += n_total
            if cfg["log_every"] and step % cfg["log_every"] == 0 and rank == 0:
                print(json.dumps({"step": step, "loss": loss_total / n_total, "lr": scheduler.get_last_lr()[0]}), flush=True)
            if stopping and step_in_epoch < steps_per_epoch:
                epoch_stats[2] += time.perf_counter() - t0
                save(next_epoch_start=False)
                if rank == 0:
                    print(f"{PROG}: terminated: checkpoint at step {step}; rerun the same command to resume",
                          file=sys.stderr, flush=True)
                return 128 + signal.SIGTERM
            if step % cfg["checkpoint_every"] == 0 and step_in_epoch < steps_per_epoch:
                epoch_stats[2] += time.perf_counter() - t0
                t0 = time.perf_counter()
                save(next_epoch_start=False)
                if rank == 0:
                    print(f"{PROG}: checkpoint at step {step}", file=sys.stderr, flush=True)
        del batches, loader
        epoch_stats[2] += time.perf_counter() - t0
        correct, seen = all_sum(list(evaluate(model, eval_loader, aug, device, amp)), device, world)
        if rank == 0:
            emit({"epoch": epoch, "step": step, "loss": epoch_stats[0] / max(epoch_stats[1], 1),
                  "top1": correct / seen if seen else None,
                  "images_per_s": epoch_stats[1] / epoch_stats[2] if epoch_stats[2] > 0 else None}, log_path)
        epoch_stats = [0.0, 0.0, 0.0]
        save(next_epoch_start=True)
        if rank == 0:
            print(f"{PROG}: checkpoint at step {step} (end of epoch {epoch})", file=sys.stderr, flush=True)
        if stopping:  # agreed by every rank in the last step's all_sum
            if rank == 0:
                print(f"{PROG}: terminated: checkpoint at step {step}; rerun the same command to resume",
                      file=sys.stderr, flush=True)
            return 128 + signal.SIGTERM
        epoch += 1
        step_in_epoch = 0

    if trace is not None:
        trace.close()
    if rank == 0:
        atomic_save(model.state_dict(), out / "model.pt")
        print(f"{PROG}: done, {step} steps; weights in {out / 'model.pt'}", file=sys.stderr, flush=True)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    try:
        cfg = resolve_config(argv)
        return train(cfg)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
