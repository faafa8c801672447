#!/usr/bin/env python3
"""Pre-train a ViT on a vatom-fast dataset with the VisualAtom paper's recipe.

One GPU:    python3 pretrain.py --data DATA --out RUN
Several:    torchrun --nproc-per-node 8 pretrain.py --data DATA --out RUN
No files:   python3 pretrain.py --data preset:visualatom-1k --data-seed 0 --out RUN
CPU smoke:  python3 pretrain.py --data DATA --out RUN --smoke

The input (--input device, the default) is vatom_fast.train.TrainLoader: batches rendered (or read)
by native threads and augmented as whole batches on the training device. --input workers keeps the
per-image torchvision transforms in DataLoader worker processes, for comparison.

Rerunning with the same --out resumes from RUN/checkpoint.pt (written atomically every
--checkpoint-every steps and at the end of every epoch). Every random draw of a step is a function of
(seed, rank, step) and every batch's augmentation a function of (seed, epoch, step, rank) (or, with
--input workers, every sample's of (seed, epoch, index)), so a job killed at any point continues with
the same samples and, on CPU, the same weights bit for bit. Everything found in the run directory is
checked before any work: files that are not regular files, a hard-linked log, a checkpoint that is not
one of this script's runs with these settings.

Needs PyTorch and torchvision; uses timm's ViT when timm is installed (--impl).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import io
import json
import math
import os
import random
import signal
import stat
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
from torchvision.ops import stochastic_depth

try:
    import vatom_fast
except ImportError:  # running from a source checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
    import vatom_fast

from vatom_fast import NativeError, NativeUnavailable, ShardWindowSampler, VisualAtomDataset, holdout_split
from vatom_fast.train import TrainLoader, eval_batch

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
    "hflip": 0.0,
    "repeated_aug": None,  # 3 with --input device (DeiT's sampler), 1 with --input workers
    "input": "device",
    "data_seed": 0,
    "data_options": {},
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
    "repeated_aug": 1,
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
    """A bad option value or run directory: reported as one line, exit status 2, before any work."""


class RunError(Exception):
    """A failure mid-run that loses nothing complete (a full disk while checkpointing): one line, exit 1."""


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
    a("--data", required=True,
      help="vatom-fast dataset directory (stored shards or manifest-only), or preset:NAME (rendered, no files)")
    a("--data-seed", type=int, help="with --data preset:NAME: the dataset's seed (default 0)")
    a("--data-option", action="append", metavar="KEY=VALUE", dest="data_option",
      help="with --data preset:NAME: a generator option of the preset (repeatable; e.g. classes=100)")
    a("--input", choices=["device", "workers"],
      help="device: TrainLoader, batched augmentation on the training device (default); "
           "workers: per-image torchvision transforms in DataLoader workers")
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
    a("--hflip", type=float, help="horizontal flip probability (default 0.0, as the papers)")
    a("--repeated-aug", type=int,
      help="repeated augmentation: each image this many times per epoch across ranks (default 3 with --input "
           "device; --input workers supports 1 only)")
    a("--amp", choices=["auto", "none", "fp16", "bf16"],
      help="mixed precision; auto: bf16 (fp16 without bf16 support) on CUDA, none on CPU")
    a("--holdout", type=int, help="held-out images per class, the last instances of every class (default 10)")
    a("--window-images", type=_optional_int,
      help="ShardWindowSampler window: images shuffled together (default: 32 classes' worth, at least 4 shards)")
    a("--workers", type=int,
      help="--input device: rendering and augmentation threads (at least 1); workers: DataLoader workers (default 8)")
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
        if key not in ("data", "out", "smoke", "data_option") and value is not None:
            cfg[key] = None if value == NONE else value
    if cfg["epochs"] is None:
        cfg["epochs"] = 90 if cfg["model"] == "vit_base" else 300
    if cfg["repeated_aug"] is None:
        cfg["repeated_aug"] = 3 if cfg["input"] == "device" else 1
    cfg["data_options"] = parse_data_options(args.data_option or [])
    is_preset = args.data.startswith(PRESET_PREFIX)
    if not is_preset and (args.data_option or args.data_seed is not None):
        raise UsageError("--data-seed and --data-option need --data preset:NAME")
    cfg["data"] = args.data if is_preset else os.path.abspath(args.data)
    cfg["out"] = os.path.abspath(args.out)
    cfg["smoke"] = bool(args.smoke)
    validate_config(cfg)
    return cfg


PRESET_PREFIX = "preset:"


def parse_data_options(items: List[str]) -> Dict[str, Any]:
    """KEY=VALUE pairs; a value that reads as JSON (a number, true/false) is taken as that."""
    out: Dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key:
            raise UsageError(f"--data-option must be KEY=VALUE, got {item!r}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out[key.replace("-", "_")] = value
    return out


def validate_config(cfg: Dict[str, Any]) -> None:
    def need(cond: bool, flag: str, allowed: str) -> None:
        if not cond:
            raise UsageError(f"--{flag} must be {allowed}, got {cfg[flag.replace('-', '_')]!r}")

    for key in ("image_size", "epochs", "batch_size", "accum_steps", "checkpoint_every"):
        need(cfg[key] >= 1, key.replace("_", "-"), "an integer >= 1")
    for key in ("warmup_steps", "workers", "randaug_ops", "log_every", "holdout", "seed", "data_seed"):
        need(cfg[key] >= 0, key.replace("_", "-"), "an integer >= 0")
    for key in ("lr", "min_lr", "warmup_lr"):
        need(cfg[key] >= 0 and math.isfinite(cfg[key]), key.replace("_", "-"), "a finite number >= 0")
    need(cfg["lr"] > 0, "lr", "a number > 0")
    for key in ("weight_decay", "mixup", "cutmix", "randaug_mstd"):
        need(cfg[key] >= 0 and math.isfinite(cfg[key]), key.replace("_", "-"), "a finite number >= 0")
    for key in ("label_smoothing", "mix_switch_prob", "reprob", "hflip"):
        need(0 <= cfg[key] <= 1, key.replace("_", "-"), "a number in [0, 1]")
    need(0 <= cfg["drop_path"] < 1, "drop-path", "a number in [0, 1)")
    need(1 <= cfg["repeated_aug"] <= 64, "repeated-aug", "an integer from 1 to 64")
    if cfg["input"] == "workers" and cfg["repeated_aug"] != 1:
        raise UsageError(f"--repeated-aug {cfg['repeated_aug']} needs --input device "
                         "(the workers path shows each image once per epoch)")
    if cfg["input"] == "device" and cfg["randaug_ops"] > 0 and cfg["randaug_m"] != int(cfg["randaug_m"]):
        raise UsageError(f"--randaug-m must be an integer with --input device (timm's m), got {cfg['randaug_m']!r}")
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


def _create(path: Path, append: bool = False) -> int:
    """A write fd on ``path`` that never follows a symlink planted in the run directory, never waits on
    a FIFO, and is a regular file with no other name (an OSError otherwise)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    fd = os.open(path, flags | (os.O_APPEND if append else os.O_EXCL), 0o644)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        raise OSError(errno.EPERM, "not a regular file with a single name", str(path))
    return fd


def open_append(path: Path) -> Any:
    """The log files: appended to, never through a symlink (one raises OSError)."""
    return os.fdopen(_create(path, append=True), "a")


def atomic_write(path: Path, write: Any) -> None:
    """``write(file)`` into a temporary file created exclusively (a stale one from a killed run, or a
    planted symlink, is removed first, never followed), fsync and rename: a kill leaves the old file
    or the new one. A write that fails (a full disk) removes the temporary file and raises RunError."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        with os.fdopen(_create(tmp), "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        reason = e.strerror or str(e)
        kept = "the previous one is kept" if path.exists() else "nothing was written"
        raise RunError(f"cannot write {path}: {reason}; {kept}: free space (or fix the directory) and rerun "
                       "the same command to resume") from None


def to_plain(obj: Any) -> Any:
    """The checkpoint with every float as a tagged string: PyTorch 1.13's weights-only loader reads
    tensors, ints, strings, lists, tuples and dicts, but not floats."""
    if isinstance(obj, float):
        return {FLOAT_TAG: repr(obj)}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def from_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        if len(obj) == 1 and FLOAT_TAG in obj:
            return float(obj[FLOAT_TAG])
        return {k: from_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_plain(v) for v in obj)
    return obj


FLOAT_TAG = "__float__"


def atomic_save(obj: Any, path: Path) -> None:
    # serialised in memory first: torch's zip writer aborts the process (an exception from a
    # destructor) when a write fails, where a plain write gives a clean OSError
    buf = io.BytesIO()
    torch.save(to_plain(obj), buf)
    atomic_write(path, lambda f: f.write(buf.getbuffer()))


# What the run directory may hold, checked before any work: a planted FIFO would hang the run, a
# directory or symlink would be found only when writing after training, and a hard-linked log would
# append to a file elsewhere.
RUN_FILES = ("checkpoint.pt", "log.jsonl", "model.pt", "config.json")
APPENDED = ("log.jsonl",)


def check_run_dir(out: Path, extra: Tuple[str, ...] = ()) -> None:
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"--out {out} is not a directory: give a directory for the run (it is created if missing)")
    for name in RUN_FILES + extra:
        try:
            st = os.lstat(out / name)
        except FileNotFoundError:
            continue
        what = None
        if stat.S_ISLNK(st.st_mode):
            what = "is a symbolic link"
        elif stat.S_ISDIR(st.st_mode):
            what = "is a directory"
        elif stat.S_ISFIFO(st.st_mode):
            what = "is a FIFO"
        elif not stat.S_ISREG(st.st_mode):
            what = "is not a regular file"
        elif (name in APPENDED or name.startswith("samples-rank")) and st.st_nlink > 1:
            what = f"has {st.st_nlink} hard links (appending would change the other names' file)"
        if what:
            raise UsageError(f"--out {out}: {name} {what}: remove it, or use another --out")


# The checkpoint's schema: what resume() reads, with its type.
CHECKPOINT_KEYS = {"identity": dict, "model": dict, "optimizer": dict, "scheduler": dict, "scaler": dict,
                   "sampler": dict, "rng": list, "step": int, "epoch_stats": list}


def read_checkpoint(path: Path) -> Dict[str, Any]:
    """RUN/checkpoint.pt as data (never code: the weights-only loader), checked against the schema; a
    file that is not one of this script's checkpoints is a UsageError naming it."""
    def bad(why: str) -> UsageError:
        return UsageError(f"{path} {why}: remove it to start the run over, or use another --out")

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise bad(f"cannot be opened ({e.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise bad("is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
    finally:
        os.close(fd)
    if not data:
        raise bad("is empty (a run killed while writing it on a file system without atomic rename?)")
    try:
        state = from_plain(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line answer
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if "Weights only load failed" in first:
            first = "it holds objects other than tensors and plain values"
        raise bad(f"is not a readable checkpoint ({first[:160]})") from None
    if not isinstance(state, dict):
        raise bad(f"is not a checkpoint of this script (it holds a {type(state).__name__})")
    for key, kind in CHECKPOINT_KEYS.items():
        if not isinstance(state.get(key), kind) or (kind is int and isinstance(state.get(key), bool)):
            raise bad(f"is not a checkpoint of this script ({key!r} is missing or not a {kind.__name__})")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state["model"].items()):
        raise bad("is not a checkpoint of this script (its model is not a dict of tensors)")
    return state


# ---------------------------------------------------------------------------------------- model

class DropPathEncoderBlock(EncoderBlock):
    """torchvision's EncoderBlock with stochastic depth on both residual branches (as timm's ViT).

    Existing blocks get this class in place (``block.__class__ = ...``), so parameter names stay
    torchvision's and the weights load into a plain ``VisionTransformer`` for fine-tuning.
    """

    drop_prob: float = 0.0

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - torchvision's name
        x = self.ln_1(input)
        x, _ = self.self_attention(query=x, key=x, value=x, need_weights=False)
        x = input + stochastic_depth(self.dropout(x), self.drop_prob, "row", self.training)
        y = self.mlp(self.ln_2(x))
        return x + stochastic_depth(y, self.drop_prob, "row", self.training)


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
    ops: List[Any] = [T.RandomResizedCrop(cfg["image_size"], scale=tuple(cfg["crop_scale"]),
                                          ratio=tuple(cfg["crop_ratio"]), interpolation=T.InterpolationMode.BICUBIC,
                                          antialias=True)]
    if cfg["hflip"] > 0:
        ops.append(T.RandomHorizontalFlip(cfg["hflip"]))
    if cfg["randaug_ops"] > 0:
        ops.append(RandAugmentMstd(cfg["randaug_ops"], cfg["randaug_m"], cfg["randaug_mstd"]))
    return T.Compose(ops)


def device_loader(cfg: Dict[str, Any], ds: VisualAtomDataset, micro: int, indices: np.ndarray, rank: int,
                  world: int, device: torch.device) -> TrainLoader:
    """The recipe as TrainLoader settings: timm's names for the same flags."""
    randaug = None
    if cfg["randaug_ops"] > 0:
        randaug = f"rand-m{int(cfg['randaug_m'])}-n{cfg['randaug_ops']}-mstd{cfg['randaug_mstd']}-inc1"
    try:
        return TrainLoader(ds, micro, image_size=cfg["image_size"], seed=cfg["seed"], device=device,
                           threads=max(1, cfg["workers"]), rank=rank, world_size=world, indices=indices,
                           scale=tuple(cfg["crop_scale"]), ratio=tuple(cfg["crop_ratio"]), hflip=cfg["hflip"],
                           randaug=randaug, reprob=cfg["reprob"], mixup=cfg["mixup"], cutmix=cfg["cutmix"],
                           switch_prob=cfg["mix_switch_prob"], smoothing=cfg["label_smoothing"],
                           repeats=cfg["repeated_aug"])
    except ValueError as e:
        raise UsageError(f"--input device: {e}") from None


def open_dataset(cfg: Dict[str, Any]) -> Tuple[VisualAtomDataset, Dict[str, Any]]:
    """The dataset, and what identifies it (by content, not by path: a moved dataset still resumes)."""
    data = cfg["data"]
    try:
        if data.startswith(PRESET_PREFIX):
            name = data[len(PRESET_PREFIX):]
            ds = VisualAtomDataset.preset(name, seed=cfg["data_seed"], output="tensor", channels=1,
                                          relative_labels=True, **cfg["data_options"])
            return ds, {"preset": name, "dataset_seed": cfg["data_seed"], "options": cfg["data_options"]}
        ds = VisualAtomDataset(data, output="tensor", channels=1, relative_labels=True)
    except (ValueError, TypeError, OSError, KeyError, NativeError, NativeUnavailable) as e:
        raise UsageError(f"--data {data}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return ds, {"images": len(ds), "classes": ds.num_classes, "instances": ds.instances,
                "image_source": ds.image_size, "dataset_seed": ds.manifest.get("seed")}


def load_images(ds: VisualAtomDataset, indices: np.ndarray) -> torch.Tensor:
    """uint8 (B, 1, S, S) of ``indices``: rendered as a batch, or read from the shards."""
    if ds.rendering:
        return ds.render_batch(indices, output="tensor", threads=max(1, torch.get_num_threads()))[0]
    return torch.stack([ds[int(i)][0] for i in indices])


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


def emit(line: Dict[str, Any], log_path: Path) -> None:
    text = json.dumps(line)
    print(text, flush=True)
    try:
        with open_append(log_path) as f:
            f.write(text + "\n")
    except OSError as e:
        raise RunError(f"cannot append to {log_path}: {e.strerror or e}; rerun the same command to resume "
                       "from the last checkpoint") from None


class Trainer:
    """One process of a run: the data, the model and its optimizer, and where the run stands."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        self.cfg = cfg
        self.out = Path(cfg["out"])
        self.ckpt_path = self.out / "checkpoint.pt"
        self.log_path = self.out / "log.jsonl"
        check_run_dir(self.out)
        ds, dataset_id = open_dataset(cfg)
        if cfg["holdout"] >= ds.instances:
            raise UsageError(f"--holdout must be below the dataset's {ds.instances} instances per class, "
                             f"got {cfg['holdout']}")
        self.ds = ds
        train_idx, held_idx = holdout_split(ds, cfg["holdout"])

        self.rank, self.world, self.device = setup_distributed(cfg)
        world, accum = self.world, cfg["accum_steps"]
        if cfg["batch_size"] % (world * accum):
            raise UsageError(f"--batch-size must be a multiple of world size x --accum-steps ({world} x {accum}), "
                             f"got {cfg['batch_size']}")
        self.micro = cfg["batch_size"] // (world * accum)  # images per forward pass on one rank
        self.per_rank_step = self.micro * accum
        # A window of few classes gives batches of few classes, which stalls training (batches drawn from
        # 4 classes of 10 keep a small ViT at chance for 200 steps); 32 classes' worth mixes well.
        window = cfg["window_images"] or max(4 * max(ds.shard_sizes), 32 * ds.instances)
        self.on_device = cfg["input"] == "device"
        if self.on_device:
            if self.per_rank_step > len(train_idx) // world:
                raise UsageError(f"--batch-size {cfg['batch_size']} is larger than an epoch "
                                 f"({len(train_idx)} training images)")
            self.loader = device_loader(cfg, ds, self.micro, train_idx, self.rank, world, self.device)
            self.steps_per_epoch = len(self.loader) // accum
            window = None
        else:
            self.sampler = ShardWindowSampler(ds, window_images=window, seed=cfg["seed"], num_replicas=world,
                                              rank=self.rank, indices=train_idx)
            self.steps_per_epoch = self.sampler.num_samples // self.per_rank_step
        if self.steps_per_epoch == 0:
            raise UsageError(f"--batch-size {cfg['batch_size']} is larger than an epoch "
                             f"({len(train_idx)} training images)")
        total_steps = self.steps_per_epoch * cfg["epochs"]

        amp_mode = cfg["amp"]
        if amp_mode == "auto":
            amp_mode = "none" if self.device.type != "cuda" else ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
        if amp_mode == "fp16" and self.device.type != "cuda":
            raise UsageError("--amp fp16 needs --device cuda (on the CPU: --amp bf16 or none)")
        self.amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp_mode)

        torch.manual_seed(derive_seed(cfg["seed"], "init"))  # the same initial weights on every rank
        self.model, impl = build_model(cfg, ds.num_classes)
        self.model.to(self.device)
        self.optimizer = torch.optim.AdamW(param_groups(self.model, cfg["weight_decay"]), lr=cfg["lr"])
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer,
                                                           lambda s: lr_at(s, cfg, total_steps) / cfg["lr"])
        self.scaler = torch.cuda.amp.GradScaler(enabled=amp_mode == "fp16")
        self.ddp = self.model
        if world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

        self.resolved = dict(cfg, amp=amp_mode, impl=impl, world_size=world, micro_batch=self.micro,
                             steps_per_epoch=self.steps_per_epoch, total_steps=total_steps, classes=ds.num_classes,
                             train_images=len(train_idx), heldout_images=len(held_idx), image_source=ds.image_size,
                             window_images=window, device=str(self.device), dataset=dataset_id)
        self.identity = training_identity(dict(cfg, impl=impl, amp=amp_mode, world_size=world, data=dataset_id))

        self.aug = BatchAugment(cfg, ds.num_classes, self.device)
        self.view = TrainView(ds, train_transform(cfg), cfg["seed"])
        pin = self.device.type == "cuda"
        # the DataLoaders draw their worker seeds from this, not from the global generator
        self.loader_gen = torch.Generator().manual_seed(derive_seed(cfg["seed"], "loader", self.rank))
        self.held_idx = held_idx[self.rank::world]
        self.eval_loader = None
        if not self.on_device:
            self.eval_loader = torch.utils.data.DataLoader(
                EvalView(ds, self.held_idx, cfg["image_size"]),
                batch_size=cfg["eval_batch_size"] or self.micro, num_workers=cfg["workers"], pin_memory=pin,
                generator=self.loader_gen)

        self.step = self.epoch = self.step_in_epoch = self.iter_start = 0
        self.epoch_stats = [0.0, 0.0, 0.0]  # loss sum, images, seconds: this epoch so far, all ranks
        self.stop_requested = False

    def amp(self) -> Any:
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def say(self, text: str) -> None:
        if self.rank == 0:
            print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    # -------------------------------------------------------------- checkpoints

    def resume(self) -> None:
        """Load RUN/checkpoint.pt if there is one, after checking that it belongs to this configuration."""
        if not os.path.lexists(self.ckpt_path):
            return
        state = read_checkpoint(self.ckpt_path)
        saved = state["identity"]
        diff = sorted(k for k in set(self.identity) | set(saved) if self.identity.get(k) != saved.get(k))
        if diff:
            k = diff[0]
            raise UsageError(f"--out {self.cfg['out']} holds a run with {k}={saved.get(k)!r}, this run has "
                             f"{k}={self.identity.get(k)!r}: use the same settings to resume, or another --out")
        def part(what: str, load: Any) -> None:
            try:
                load()
            except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as e:
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
                raise UsageError(f"{self.ckpt_path}: its {what} does not fit this run ({reason}): remove it to "
                                 "start over, or use another --out") from None

        part("model", lambda: self.model.load_state_dict(state["model"]))
        part("optimizer state", lambda: self.optimizer.load_state_dict(state["optimizer"]))
        part("schedule", lambda: self.scheduler.load_state_dict(state["scheduler"]))
        part("loss scaler", lambda: self.scaler.load_state_dict(state["scaler"]))
        if self.on_device:
            part("sampler state", lambda: self.loader.load_state_dict(state["sampler"]))
            self.epoch = self.loader.epoch
            self.step_in_epoch = self.loader.start_step // self.cfg["accum_steps"]
        else:
            part("sampler state", lambda: self.sampler.load_state_dict(state["sampler"]))
            self.epoch = self.sampler.epoch
            self.step_in_epoch = state["sampler"]["offset"] // (self.world * self.per_rank_step)
        part("random state", lambda: set_rng_states(state["rng"][self.rank], self.device))
        part("progress", lambda: [float(x) for x in state["epoch_stats"][:3]])
        self.step, self.epoch_stats = state["step"], [float(x) for x in state["epoch_stats"][:3]]
        self.say(f"resuming {self.ckpt_path} at step {self.step} (epoch {self.epoch}, step {self.step_in_epoch} of it)")

    def checkpoint(self, epoch_done: bool) -> None:
        """Write RUN/checkpoint.pt (rank 0; every rank must call it): after the current step, or at the
        start of the next epoch."""
        if self.on_device:
            epoch, step = (self.epoch + 1, 0) if epoch_done else (self.epoch, self.step_in_epoch * self.cfg["accum_steps"])
            sampler_state = dict(self.loader.state_dict(step=0), epoch=epoch, step=step)
        elif epoch_done:
            self.sampler.set_epoch(self.epoch + 1)
            sampler_state = self.sampler.state_dict(consumed=0)
        else:  # consumed counts from where this epoch's iteration started (a resumed one starts midway)
            consumed = (self.step_in_epoch - self.iter_start) * self.per_rank_step
            sampler_state = self.sampler.state_dict(consumed=consumed)
        states = [rng_states(self.device)]
        if self.world > 1:
            states = [None] * self.world
            dist.all_gather_object(states, rng_states(self.device))
        if self.rank == 0:
            atomic_save({"identity": self.identity, "model": self.model.state_dict(),
                         "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                         "scaler": self.scaler.state_dict(), "sampler": sampler_state, "rng": states,
                         "step": self.step, "epoch_stats": self.epoch_stats}, self.ckpt_path)

    # -------------------------------------------------------------- training

    def train_step(self, batches: Iterator[Any]) -> Tuple[float, List[int]]:
        """One optimizer step over accum_steps micro-batches; returns this rank's loss sum and indices."""
        cfg, device = self.cfg, self.device
        # every random draw of the step is a function of (seed, rank, step)
        torch.manual_seed(derive_seed(cfg["seed"], "step", self.rank, self.step))  # drop-path
        gen = torch.Generator(device=device).manual_seed(derive_seed(cfg["seed"], "erase", self.rank, self.step))
        mix_rng = np.random.default_rng(derive_seed(cfg["seed"], "mix", self.rank, self.step))
        loss_sum, indices = 0.0, []
        accum = cfg["accum_steps"]
        for a in range(accum):
            if self.on_device:  # augmented, mixed and on the device already
                x, target = next(batches)
                indices += self.loader.batch_indices(self.step_in_epoch * accum + a).tolist()
            else:
                x, y, idx = next(batches)
                indices += idx.tolist()
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                x, target = self.aug.mix(self.aug.erase(self.aug.images(x), gen), y, mix_rng)
            last = a == accum - 1
            with self.ddp.no_sync() if self.world > 1 and not last else contextlib.nullcontext():
                with self.amp():
                    logits = self.ddp(x)
                loss = torch.sum(-target * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
                self.scaler.scale(loss / accum).backward()
            loss_sum += float(loss) * x.shape[0]
        if cfg["clip_grad"] is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg["clip_grad"])
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        self.step_in_epoch += 1
        return loss_sum, indices

    def evaluate(self) -> Tuple[float, float]:
        """(correct, seen) on this rank's share of the held-out images."""
        self.model.eval()
        correct = seen = 0
        with torch.no_grad():
            for x, y in self.eval_batches():
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
                with self.amp():
                    logits = self.model(x)
                correct += int((logits.argmax(1) == y).sum())
                seen += int(y.shape[0])
        self.model.train()
        return float(correct), float(seen)

    def eval_batches(self) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """Normalised held-out images and their labels: whole images resized (PIL's bicubic)."""
        if self.eval_loader is not None:
            for x, y in self.eval_loader:
                yield self.aug.images(x.to(self.device, non_blocking=True)), y
            return
        size = self.cfg["eval_batch_size"] or self.micro
        labels = torch.from_numpy(np.asarray(self.ds.labels(), dtype=np.int64))
        for b in range(0, len(self.held_idx), size):
            idx = np.asarray(self.held_idx[b:b + size], dtype=np.int64)
            yield eval_batch(load_images(self.ds, idx).to(self.device), self.cfg["image_size"]), labels[idx]

    def run_epoch(self, trace: Any) -> bool:
        """The rest of the current epoch; False when stopped by SIGTERM (after a checkpoint)."""
        cfg = self.cfg
        left = self.steps_per_epoch - self.step_in_epoch
        self.iter_start = self.step_in_epoch
        if self.on_device:
            self.loader.set_epoch(self.epoch)
            self.loader.load_state_dict(dict(self.loader.state_dict(step=0), epoch=self.epoch,
                                             step=self.step_in_epoch * cfg["accum_steps"]))
            loader: Any = self.loader
        else:
            self.sampler.set_epoch(self.epoch)
            batch_sampler = EpochBatches(self.sampler, self.micro, left * cfg["accum_steps"])
            loader = torch.utils.data.DataLoader(self.view, batch_sampler=batch_sampler, num_workers=cfg["workers"],
                                                 pin_memory=self.device.type == "cuda", generator=self.loader_gen)
        batches = iter(loader)
        stopping = False
        t0 = time.perf_counter()
        for _ in range(left):
            loss_sum, indices = self.train_step(batches)
            if trace is not None:
                trace.write(json.dumps({"epoch": self.epoch, "step": self.step, "indices": indices}) + "\n")
                trace.flush()
            # one all-reduce per step: the loss, and whether any rank was asked to stop
            loss_total, n_total, stop = all_sum([loss_sum, float(self.per_rank_step), float(self.stop_requested)],
                                                self.device, self.world)
            stopping = stop > 0
            self.epoch_stats[0] += loss_total
            self.epoch_stats[1] += n_total
            if cfg["log_every"] and self.step % cfg["log_every"] == 0 and self.rank == 0:
                print(json.dumps({"step": self.step, "loss": loss_total / n_total,
                                  "lr": self.scheduler.get_last_lr()[0]}), flush=True)
            mid_epoch = self.step_in_epoch < self.steps_per_epoch  # the epoch's end has its own checkpoint
            if mid_epoch and (stopping or self.step % cfg["checkpoint_every"] == 0):
                self.epoch_stats[2] += time.perf_counter() - t0
                self.checkpoint(epoch_done=False)
                if stopping:
                    if hasattr(batches, "close"):
                        batches.close()
                    return False
                self.say(f"checkpoint at step {self.step}")
                t0 = time.perf_counter()
        if hasattr(batches, "close"):
            batches.close()  # the input threads of a TrainLoader epoch
        del batches, loader
        self.epoch_stats[2] += time.perf_counter() - t0

        correct, seen = all_sum(list(self.evaluate()), self.device, self.world)
        if self.rank == 0:
            loss, images, seconds = self.epoch_stats
            emit({"epoch": self.epoch, "step": self.step, "loss": loss / max(images, 1),
                  "top1": correct / seen if seen else None,
                  "images_per_s": images / seconds if seconds > 0 else None}, self.log_path)
        self.epoch_stats = [0.0, 0.0, 0.0]
        self.checkpoint(epoch_done=True)
        self.say(f"checkpoint at step {self.step} (end of epoch {self.epoch})")
        self.epoch += 1
        self.step_in_epoch = 0
        return not stopping

    def run(self) -> int:
        if self.cfg["trace_samples"]:
            check_run_dir(self.out, (f"samples-rank{self.rank}.jsonl",))
        self.resume()
        self.out.mkdir(parents=True, exist_ok=True)  # every rank: the trace files are per rank
        if self.rank == 0:
            print(json.dumps({"config": self.resolved}), flush=True)  # every stdout line is one JSON object
            text = json.dumps(self.resolved, indent=2) + "\n"
            atomic_write(self.out / "config.json", lambda f: f.write(text.encode()))
        # SIGTERM (Slurm or Kubernetes preemption; torchrun passes it on): finish the step, checkpoint, exit
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stop_requested", True))
        trace = open_append(self.out / f"samples-rank{self.rank}.jsonl") if self.cfg["trace_samples"] else None
        try:
            self.model.train()
            while self.epoch < self.cfg["epochs"]:
                if not self.run_epoch(trace):
                    self.say(f"terminated: checkpoint at step {self.step}; rerun the same command to resume")
                    return 128 + signal.SIGTERM
        finally:
            if trace is not None:
                trace.close()
        if self.rank == 0:
            atomic_save(self.model.state_dict(), self.out / "model.pt")
        self.say(f"done, {self.step} steps; weights in {self.out / 'model.pt'}")
        if self.world > 1:
            dist.barrier()
            dist.destroy_process_group()
        return 0


def train(cfg: Dict[str, Any]) -> int:
    if cfg["threads"] is not None:
        torch.set_num_threads(cfg["threads"])
    return Trainer(cfg).run()


def main(argv: Optional[List[str]] = None) -> int:
    try:
        cfg = resolve_config(argv)
        return train(cfg)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except RunError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
