"""Training input at render speed: the VisualAtom/RCDB papers' augmentation recipe as batched tensor
operations on whole uint8 batches, on the device that trains, fed by native rendering in a background
thread.

The recipe is timm's (``--interpolation bicubic --aa rand-m9-mstd0.5-inc1 --repeated-aug --mixup 0.8
--cutmix 1.0 --reprob 0.25 --remode pixel --hflip 0.0 --smoothing 0.1``), in the order timm's fast
loader applies it: RandomResizedCrop (bicubic, antialiased as PIL resizes), horizontal flip,
RandAugment, mixup/cutmix on the uint8 batch, normalisation to three channels, random erasing, and
smoothed soft targets. Images stay one channel (R = G = B) until normalisation, which is exact for
every op on a gray image.

Every random draw of a batch comes from a generator seeded by ``(seed, epoch, step, rank)``: the same
seed gives the same bytes on the same device, and a loader resumed mid-epoch yields exactly the
batches an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sys
import threading
from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# timm fills the area a geometric op uncovers with the ImageNet mean as RGB, (124, 116, 104). A
# one-channel batch takes that colour's gray value as PIL converts it (L = 0.299 R + 0.587 G + 0.114 B).
GRAY_FILL = 117

# timm's RandAugment op sets: ``inc1`` selects the variants whose severity grows with the magnitude.
RAND_OPS = ("AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd", "Color",
            "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
RAND_INCREASING_OPS = ("AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                       "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing",
                       "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel",
                       "TranslateYRel")
GEOMETRIC_OPS = ("Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
LEVEL_DENOM = 10.0


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from any tuple: the same on every machine and Python (no hash randomisation)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


# ------------------------------------------------------------------------------------------ recipe

@dataclass(frozen=True)
class RandAugmentConfig:
    """timm's ``rand-m{m}-n{n}-mstd{mstd}-inc{0|1}``: ``n`` ops per image chosen uniformly with
    replacement, each applied with probability ``prob``, each with its own magnitude drawn from
    N(m, mstd) and clipped to 0..mmax."""
    magnitude: float = 10.0
    num_ops: int = 2
    mstd: float = 0.0
    mmax: float = LEVEL_DENOM
    increasing: bool = False
    prob: float = 0.5

    @classmethod
    def parse(cls, text: str) -> "RandAugmentConfig":
        parts = text.split("-")
        if parts[0] != "rand":
            raise ValueError(f"randaug={text!r}: expected timm's 'rand-...' form, e.g. 'rand-m9-mstd0.5-inc1'")
        out: Dict[str, Any] = {}
        for part in parts[1:]:
            m = re.fullmatch(r"(mstd|mmax|inc|m|n)(\d+(?:\.\d+)?)", part)
            if m is None:
                raise ValueError(f"randaug={text!r}: unknown section {part!r} (allowed: m<magnitude>, n<ops>, "
                                 "mstd<std>, mmax<max>, inc<0|1>)")
            key, val = m.group(1), m.group(2)
            if key == "m":
                out["magnitude"] = float(int(float(val)))
            elif key == "n":
                out["num_ops"] = int(float(val))
            elif key == "mstd":
                out["mstd"] = float(val)
            elif key == "mmax":
                out["mmax"] = float(int(float(val)))
            else:
                out["increasing"] = bool(int(float(val)))
        if out.get("mstd", 0.0) > 100:
            raise ValueError(f"randaug={text!r}: mstd above 100 (timm's uniform magnitude) is not supported")
        return cls(**out)

    @property
    def ops(self) -> Tuple[str, ...]:
        return RAND_INCREASING_OPS if self.increasing else RAND_OPS


@dataclass(frozen=True)
class Recipe:
    """Every step of the training input; ``None`` or 0 switches a step off.

    Interpolation: the crop is resized with bicubic (the papers' ``--interpolation bicubic``); the
    geometric RandAugment ops use bilinear, one of the two filters timm picks between at random when
    no training interpolation is given (its default)."""
    image_size: int = 224
    scale: Tuple[float, float] = (0.08, 1.0)
    ratio: Tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.0
    randaug: Optional[str] = "rand-m9-mstd0.5-inc1"
    reprob: float = 0.25
    mixup: float = 0.8
    cutmix: float = 1.0
    mix_prob: float = 1.0
    switch_prob: float = 0.5
    smoothing: float = 0.1
    repeats: int = 3
    fill: int = GRAY_FILL
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    randaug_config: Optional[RandAugmentConfig] = field(default=None, compare=False, repr=False)

    def checked(self) -> "Recipe":
        """This recipe with its values checked (a ValueError names the keyword, value and what is allowed)."""
        def need(ok: bool, key: str, allowed: str) -> None:
            if not ok:
                raise ValueError(f"{key}={getattr(self, key)!r}: expected {allowed}")

        def number(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        need(type(self.image_size) is int and 8 <= self.image_size <= 4096, "image_size", "an integer from 8 to 4096")
        for key in ("scale", "ratio"):
            v = getattr(self, key)
            need(isinstance(v, (tuple, list)) and len(v) == 2 and all(number(x) and x > 0 for x in v)
                 and v[0] <= v[1], key, "(min, max) with 0 < min <= max")
        need(self.scale[1] <= 1, "scale", "(min, max) with max <= 1")
        for key in ("hflip", "reprob", "mix_prob", "switch_prob", "smoothing"):
            v = getattr(self, key)
            need(number(v) and 0 <= v <= 1, key, "a number from 0 to 1")
        for key in ("mixup", "cutmix"):
            v = getattr(self, key)
            need(number(v) and v >= 0, key, "a number >= 0 (0 = off)")
        need(type(self.repeats) is int and 1 <= self.repeats <= 64, "repeats", "an integer from 1 to 64")
        need(type(self.fill) is int and 0 <= self.fill <= 255, "fill", "an integer from 0 to 255")
        for key in ("mean", "std"):
            v = getattr(self, key)
            need(isinstance(v, (tuple, list)) and len(v) == 3 and all(number(x) for x in v), key, "three numbers")
        need(all(s > 0 for s in self.std), "std", "three numbers > 0")
        ra = None
        if self.randaug is not None:
            need(isinstance(self.randaug, str), "randaug", "timm's 'rand-...' string or None")
            ra = RandAugmentConfig.parse(self.randaug)
            need(0 <= ra.num_ops <= 16, "randaug", "at most 16 ops (n0..n16)")
        return replace(self, scale=tuple(self.scale), ratio=tuple(self.ratio), mean=tuple(self.mean),
                       std=tuple(self.std), randaug_config=ra)


RECIPES: Dict[str, Recipe] = {
    # the papers' pretrain.sh (timm) settings
    "paper": Recipe(),
    # no augmentation: the whole image resized, hard labels, each image once per epoch
    "none": Recipe(scale=(1.0, 1.0), ratio=(1.0, 1.0), randaug=None, reprob=0.0, mixup=0.0, cutmix=0.0,
                   smoothing=0.0, repeats=1),
}
RECIPE_KEYS = tuple(f.name for f in fields(Recipe) if f.name != "randaug_config")


def make_recipe(recipe: "str | Recipe" = "paper", **overrides: Any) -> Recipe:
    """A named recipe (``"paper"``, ``"none"``) or a Recipe, with keyword overrides, checked."""
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"recipe={recipe!r}: expected one of {sorted(RECIPES)} or a Recipe")
        recipe = RECIPES[recipe]
    elif not isinstance(recipe, Recipe):
        raise ValueError(f"recipe={recipe!r}: expected one of {sorted(RECIPES)} or a Recipe")
    unknown = sorted(set(overrides) - set(RECIPE_KEYS))
    if unknown:
        raise TypeError(f"unknown recipe keyword {unknown[0]!r} (allowed: {', '.join(RECIPE_KEYS)})")
    return replace(recipe, **overrides).checked()


# ------------------------------------------------------------------------------------------ draws

@dataclass
class BatchDraws:
    """Every random parameter of one batch, drawn on the CPU (then moved to the batch's device)."""
    crop: torch.Tensor  # (B, 4) int64: top, left, height, width in the source image
    flip: torch.Tensor  # (B,) bool
    ops: torch.Tensor  # (B, n) int64 op index into the RandAugment op set
    apply: torch.Tensor  # (B, n) bool
    magnitude: torch.Tensor  # (B, n) float64, clipped
    negate: torch.Tensor  # (B, n) bool
    lam: float
    use_cutmix: bool
    cut_box: Tuple[int, int, int, int]  # y0, y1, x0, x1 of the cutmix box
    erase: List[Tuple[int, int, int, int, int]]  # (sample, top, left, h, w) of each erased sample
    erase_seed: int


def draw_crops(gen: torch.Generator, batch: int, height: int, width: int, scale: Tuple[float, float],
               ratio: Tuple[float, float]) -> torch.Tensor:
    """torchvision's RandomResizedCrop.get_params for a whole batch: up to 10 tries of area fraction
    U(scale) and log-uniform aspect ratio, the first that fits, position uniform; else the central
    crop of the nearest allowed ratio. Returns (B, 4) int64 (top, left, height, width)."""
    tries = 10
    area = float(height * width)
    u = torch.rand((batch, tries, 2), generator=gen, dtype=torch.float64)
    pos = torch.rand((batch, 2), generator=gen, dtype=torch.float64)
    target = area * (scale[0] + u[..., 0] * (scale[1] - scale[0]))
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(lo + u[..., 1] * (hi - lo))
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = ok.to(torch.int8).argmax(1, keepdim=True)
    found = ok.any(1)
    h = h.gather(1, first).squeeze(1).to(torch.int64)
    w = w.gather(1, first).squeeze(1).to(torch.int64)
    top = torch.floor(pos[:, 0] * (height - h + 1).double()).to(torch.int64)
    left = torch.floor(pos[:, 1] * (width - w + 1).double()).to(torch.int64)
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        fw, fh = int(round(height * max(ratio))), height
    else:
        fw, fh = width, height
    fallback = torch.tensor([(height - fh) // 2, (width - fw) // 2, fh, fw], dtype=torch.int64)
    out = torch.stack([top, left, h, w], 1)
    return torch.where(found.unsqueeze(1), out, fallback.expand(batch, 4))


def draw_erasing(gen: torch.Generator, batch: int, height: int, width: int, prob: float
                 ) -> List[Tuple[int, int, int, int, int]]:
    """timm's RandomErasing parameters (one region, area 2%..1/3, log-uniform aspect 0.3..3.3, 10
    tries, position uniform), for the samples that draw below ``prob``."""
    tries = 10
    u = torch.rand((batch, 1 + tries * 2 + 2), generator=gen, dtype=torch.float64)
    if prob <= 0:
        return []
    area = height * width
    lo, hi = math.log(0.3), math.log(1 / 0.3)
    target = area * (0.02 + u[:, 1:1 + tries] * (1 / 3 - 0.02))
    aspect = torch.exp(lo + u[:, 1 + tries:1 + 2 * tries] * (hi - lo))
    h = torch.round(torch.sqrt(target * aspect))
    w = torch.round(torch.sqrt(target / aspect))
    ok = (h < height) & (w < width)
    out = []
    for b in torch.nonzero((u[:, 0] < prob) & ok.any(1)).flatten().tolist():
        k = int(ok[b].to(torch.int8).argmax())
        hb, wb = int(h[b, k]), int(w[b, k])
        top = int(u[b, -2] * (height - hb + 1))
        left = int(u[b, -1] * (width - wb + 1))
        out.append((b, top, left, hb, wb))
    return out


def draw_batch(seed: int, batch: int, source_size: int, recipe: Recipe) -> BatchDraws:
    """Every parameter of one batch from ``seed`` (derive it from seed, epoch, step and rank)."""
    gen = torch.Generator().manual_seed(seed)
    crop = draw_crops(gen, batch, source_size, source_size, recipe.scale, recipe.ratio)
    flip = torch.rand(batch, generator=gen, dtype=torch.float64) < recipe.hflip
    ra = recipe.randaug_config
    n = ra.num_ops if ra is not None else 0
    ops = torch.randint(0, len(RAND_OPS), (batch, n), generator=gen)
    apply = torch.rand((batch, n), generator=gen, dtype=torch.float64) <= (ra.prob if ra else 0.0)
    mag = torch.randn((batch, n), generator=gen, dtype=torch.float64)
    negate = torch.rand((batch, n), generator=gen, dtype=torch.float64) > 0.5
    if ra is not None:
        mag = (ra.magnitude + ra.mstd * mag).clamp(0.0, ra.mmax)
    s = recipe.image_size
    erase = draw_erasing(gen, batch, s, s, recipe.reprob)
    erase_seed = int(torch.randint(0, 2 ** 62, (1,), generator=gen))
    # timm's Mixup draws with NumPy (torch has no seeded Beta sampler)
    rng = np.random.default_rng(seed)
    lam, use_cutmix, box = 1.0, False, (0, 0, 0, 0)
    if (recipe.mixup > 0 or recipe.cutmix > 0) and rng.random() < recipe.mix_prob:
        if recipe.mixup > 0 and recipe.cutmix > 0:
            use_cutmix = bool(rng.random() < recipe.switch_prob)
        else:
            use_cutmix = recipe.cutmix > 0
        alpha = recipe.cutmix if use_cutmix else recipe.mixup
        lam = float(rng.beta(alpha, alpha))
        if use_cutmix:
            cut = math.sqrt(1.0 - lam)
            ch, cw = int(s * cut), int(s * cut)
            cy, cx = int(rng.integers(0, s)), int(rng.integers(0, s))
            y0, y1 = min(max(cy - ch // 2, 0), s), min(max(cy + ch // 2, 0), s)
            x0, x1 = min(max(cx - cw // 2, 0), s), min(max(cx + cw // 2, 0), s)
            box = (y0, y1, x0, x1)
            lam = 1.0 - (y1 - y0) * (x1 - x0) / float(s * s)  # timm's correct_lam
    return BatchDraws(crop, flip, ops, apply, mag, negate, lam, use_cutmix, box, erase, erase_seed)


# ------------------------------------------------------------------------------------------ resize

def crop_resize(images: torch.Tensor, crop: torch.Tensor, size: int, flip: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
    """Crop ``(top, left, height, width)`` of each uint8 ``(B, 1, S, S)`` image and resize it to
    ``size`` x ``size`` with PIL's bicubic filter (a = -0.5), its support widened by the downscale
    factor as PIL's resize does, so that shrinking 1-pixel lines is antialiased; optionally flipped
    horizontally. Returns uint8 ``(B, 1, size, size)`` on the images' device. Each sample resamples
    its crop only, one axis at a time (a dense per-sample matrix product costs 40 times more)."""
    B = images.shape[0]
    out = torch.empty((B, 1, size, size), dtype=torch.uint8, device=images.device)
    for b, (top, left, h, w) in enumerate(crop.tolist()):
        patch = images[b:b + 1, :, top:top + h, left:left + w].to(torch.float32)
        # PIL resamples rows, rounds and clips to 8 bits, then resamples columns: so do we
        rows = F.interpolate(patch, size=(h, size), mode="bicubic", align_corners=False, antialias=True)
        rows = rows.add_(0.5).floor_().clamp_(0, 255)
        r = F.interpolate(rows, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
        out[b:b + 1] = r.add_(0.5).floor_().clamp_(0, 255)
    if flip is not None and bool(flip.any()):
        idx = torch.nonzero(flip).flatten().to(images.device)
        out[idx] = out[idx].flip(-1)
    return out


# ------------------------------------------------------------------------------------------ RandAugment

def _blend(degenerate: torch.Tensor, image: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL's Image.blend on 8-bit values: in1 + alpha * (in2 - in1) in single precision, truncated and
    clipped to 0..255 (``factor`` broadcasts, one per sample)."""
    alpha = factor.to(torch.float32)
    d = image.to(torch.float32) - degenerate.to(torch.float32)
    v = degenerate.to(torch.float32) + alpha * d
    return v.clamp_(0, 255).trunc_().to(torch.uint8)


def _point_luts(name: str, x: torch.Tensor, level: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """(n, 256) uint8 lookup tables of a per-pixel op for n images ``x`` (n, 1, s, s) uint8 (on the
    CPU or the device), with timm's level-to-argument mapping."""
    n = x.shape[0]
    dev = x.device
    v = torch.arange(256, device=dev, dtype=torch.int64).expand(n, 256)
    level = level.to(dev)
    sign = sign.to(dev)
    if name in ("AutoContrast", "Equalize"):
        flat = x.view(n, -1).to(torch.int64) + 256 * torch.arange(n, device=dev).view(n, 1)
        hist = torch.bincount(flat.flatten(), minlength=256 * n).view(n, 256)
        present = (hist > 0).to(torch.int8)
        last = 255 - present.flip(1).argmax(1, keepdim=True)
        if name == "AutoContrast":
            lo = present.argmax(1, keepdim=True).to(torch.float64)
            hi = last.to(torch.float64)
            scale = 255.0 / (hi - lo).clamp(min=1)
            lut = torch.trunc(v.double() * scale - lo * scale).clamp(0, 255).to(torch.int64)
            return torch.where(hi > lo, lut, v).to(torch.uint8)
        step = (hist.sum(1, keepdim=True) - hist.gather(1, last)) // 255
        nonzero = present.sum(1, keepdim=True)
        before = torch.cumsum(hist, 1) - hist
        lut = ((step // 2 + before) // step.clamp(min=1)).clamp(max=255)
        return torch.where((nonzero > 1) & (step > 0), lut, v).to(torch.uint8)
    if name == "Invert":
        return (255 - v).to(torch.uint8)
    if name in ("Posterize", "PosterizeIncreasing"):
        bits = torch.floor(level / LEVEL_DENOM * 4).to(torch.int64)
        if name == "PosterizeIncreasing":
            bits = 4 - bits
        mask = (~((1 << (8 - bits.clamp(max=8))) - 1)) & 0xFF
        return torch.where(bits.view(n, 1) >= 8, v, v & mask.view(n, 1)).to(torch.uint8)
    if name in ("Solarize", "SolarizeIncreasing"):
        thresh = torch.floor(level / LEVEL_DENOM * 256).to(torch.int64)
        if name == "SolarizeIncreasing":
            thresh = 256 - thresh
        return torch.where(v < thresh.view(n, 1), v, 255 - v).to(torch.uint8)
    if name == "SolarizeAdd":
        add = torch.floor(level / LEVEL_DENOM * 110).to(torch.int64)
        return torch.where(v < 128, (v + add.view(n, 1)).clamp(max=255), v).to(torch.uint8)
    factor = _enhance_factor(name, level, sign).view(n, 1)
    if name in ("Color", "ColorIncreasing"):
        return v.to(torch.uint8)  # a gray image has no colour to change
    if name in ("Brightness", "BrightnessIncreasing"):
        return _blend(torch.zeros_like(v), v, factor)
    if name in ("Contrast", "ContrastIncreasing"):
        flat = x.view(n, -1)
        # ImageStat's mean of the grayscale, rounded as ImageEnhance.Contrast rounds it
        mean = torch.floor(flat.to(torch.float64).mean(1) + 0.5).view(n, 1)
        return _blend(mean.expand(n, 256), v, factor)
    raise KeyError(name)


def _enhance_factor(name: str, level: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    if name.endswith("Increasing"):
        return torch.clamp(1.0 + torch.where(sign, -1.0, 1.0) * (level / LEVEL_DENOM * 0.9), min=0.1)
    return level / LEVEL_DENOM * 1.8 + 0.1


def _sharpness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """ImageEnhance.Sharpness: a blend with PIL's SMOOTH filter (3x3, 1/13 around a 5/13 centre, the
    border pixels kept), summed in single precision in PIL's order."""
    n, _, h, w = x.shape
    f = x.to(torch.float32)[:, 0]
    k_side = torch.tensor(1.0 / 13.0, dtype=torch.float32, device=x.device)
    k_mid = torch.tensor(5.0 / 13.0, dtype=torch.float32, device=x.device)

    def row(r: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        return r[:, :, :-2] * k_side + r[:, :, 1:-1] * centre + r[:, :, 2:] * k_side

    ss = row(f[:, 2:], k_side) + row(f[:, 1:-1], k_mid)
    ss = ss + row(f[:, :-2], k_side)
    smooth = f.clone()
    smooth[:, 1:-1, 1:-1] = ss.add(0.5).clamp(0, 255).trunc()
    out = _blend(smooth, f, factor.to(x.device).view(n, 1, 1))
    return out.view(n, 1, h, w)


def _geometric_matrices(names: Sequence[str], level: torch.Tensor, sign: torch.Tensor, size: int) -> torch.Tensor:
    """(n, 2, 3) float64 affine maps from an output pixel's centre to its source position, as PIL's
    ``Image.transform``/``rotate`` use them in timm's ops."""
    n = len(names)
    m = torch.zeros((n, 2, 3), dtype=torch.float64)
    m[:, 0, 0] = 1
    m[:, 1, 1] = 1
    s = torch.where(sign, -1.0, 1.0).to(torch.float64)
    for k, name in enumerate(names):
        lv = float(level[k])
        if name == "Rotate":
            deg = lv / LEVEL_DENOM * 30.0 * float(s[k])
            a = -math.radians(deg)
            c, si = round(math.cos(a), 15), round(math.sin(a), 15)
            cx = cy = size / 2.0
            m[k] = torch.tensor([[c, si, c * -cx + si * -cy + cx], [-si, c, -si * -cx + c * -cy + cy]],
                                dtype=torch.float64)
        elif name == "ShearX":
            m[k, 0, 1] = lv / LEVEL_DENOM * 0.3 * float(s[k])
        elif name == "ShearY":
            m[k, 1, 0] = lv / LEVEL_DENOM * 0.3 * float(s[k])
        elif name == "TranslateXRel":
            m[k, 0, 2] = lv / LEVEL_DENOM * 0.45 * float(s[k]) * size
        elif name == "TranslateYRel":
            m[k, 1, 2] = lv / LEVEL_DENOM * 0.45 * float(s[k]) * size
    return m


def affine(x: torch.Tensor, matrices: torch.Tensor, fill: int) -> torch.Tensor:
    """PIL's bilinear ``Image.transform(AFFINE)`` on uint8 ``(n, 1, s, s)``: each output pixel centre
    mapped by its sample's (2, 3) matrix; a source position outside the image takes ``fill``, one
    inside is interpolated with edge clamping and truncated to 8 bits."""
    n, _, h, w = x.shape
    m = matrices.to(torch.float32).view(n, 6, 1, 1).to(x.device)
    xs = torch.arange(w, dtype=torch.float32, device=x.device).view(1, 1, w) + 0.5
    ys = torch.arange(h, dtype=torch.float32, device=x.device).view(1, h, 1) + 0.5
    grid = torch.empty((n, h, w, 2), dtype=torch.float32, device=x.device)
    sx, sy = grid[..., 0], grid[..., 1]  # source positions in pixels, then in grid_sample's -1..1
    torch.add(m[:, 0] * xs + m[:, 2], m[:, 1] * ys, out=sx)
    torch.add(m[:, 3] * xs + m[:, 5], m[:, 4] * ys, out=sy)
    outside = (sx < 0) | (sx >= w) | (sy < 0) | (sy >= h)
    sx.mul_(2.0 / w).sub_(1)
    sy.mul_(2.0 / h).sub_(1)
    v = F.grid_sample(x.to(torch.float32), grid, mode="bilinear", padding_mode="border", align_corners=False)
    # PIL truncates; a hair of slack keeps exact source values from falling to the integer below
    v = v.add_(1e-3).clamp_(0, 255).floor_()
    v.masked_fill_(outside.view(n, 1, h, w), float(fill))
    return v.to(torch.uint8)


def rand_augment(x: torch.Tensor, draws: BatchDraws, config: RandAugmentConfig, fill: int) -> torch.Tensor:
    """RandAugment on uint8 ``(B, 1, s, s)``: per layer, the samples of each op are gathered and
    transformed together (per-pixel ops through one lookup table per sample, geometric ops through
    one affine resampling), then written back."""
    names = config.ops
    B, _, s, _ = x.shape
    x = x.clone()
    for layer in range(draws.ops.shape[1]):
        ops = draws.ops[:, layer]
        active = draws.apply[:, layer]
        lut_idx: List[torch.Tensor] = []
        luts: List[torch.Tensor] = []
        geo_idx: List[torch.Tensor] = []
        geo_names: List[str] = []
        for k, name in enumerate(names):
            idx = torch.nonzero(active & (ops == k)).flatten()
            if idx.numel() == 0:
                continue
            level, sign = draws.magnitude[idx, layer], draws.negate[idx, layer]
            if name in GEOMETRIC_OPS:
                geo_idx.append(idx)
                geo_names += [name] * idx.numel()
            elif name in ("Sharpness", "SharpnessIncreasing"):
                di = idx.to(x.device)
                x[di] = _sharpness(x[di], _enhance_factor(name, level, sign))
            else:
                luts.append(_point_luts(name, x[idx.to(x.device)], level, sign))
                lut_idx.append(idx)
        if luts:
            idx = torch.cat(lut_idx).to(x.device)
            table = torch.cat(luts).to(torch.int64)  # (n, 256)
            sub = x[idx].view(idx.numel(), -1).to(torch.int64)
            x[idx] = torch.gather(table, 1, sub).to(torch.uint8).view(-1, 1, s, s)
        if geo_idx:
            idx = torch.cat(geo_idx)
            order = torch.cat([draws.magnitude[i, layer] for i in geo_idx])
            signs = torch.cat([draws.negate[i, layer] for i in geo_idx])
            mats = _geometric_matrices(geo_names, order, signs, s)
            di = idx.to(x.device)
            x[di] = affine(x[di], mats, fill)
    return x


# ------------------------------------------------------------------------------------------ batch

def mix_images(x: torch.Tensor, draws: BatchDraws) -> torch.Tensor:
    """timm's fast-collate Mixup in batch mode on uint8: sample i mixed with sample B-1-i, mixup
    rounded to the nearest integer, cutmix pasting the drawn box."""
    if draws.lam == 1.0:
        return x
    other = x.flip(0)
    if draws.use_cutmix:
        y0, y1, x0, x1 = draws.cut_box
        x = x.clone()
        x[:, :, y0:y1, x0:x1] = other[:, :, y0:y1, x0:x1]
        return x
    # NumPy's float32 arithmetic in timm: each factor rounded to single precision, two products, one sum
    v = x.to(torch.float32).mul_(float(np.float32(draws.lam)))
    w = other.to(torch.float32).mul_(float(np.float32(1.0 - draws.lam)))
    return v.add_(w).round_().to(torch.uint8)  # round half to even, as np.rint


def soft_targets(labels: torch.Tensor, num_classes: int, lam: float, smoothing: float) -> torch.Tensor:
    """timm's mixup_target: smoothed one-hot of each label mixed with that of its flipped partner."""
    off = smoothing / num_classes
    on = 1.0 - smoothing + off
    t = torch.full((labels.shape[0], num_classes), off, device=labels.device)
    t.scatter_(1, labels.view(-1, 1).to(torch.int64), on)
    return t * lam + t.flip(0) * (1.0 - lam)


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float], out: Optional[torch.Tensor] = None
              ) -> torch.Tensor:
    """uint8 ``(B, 1, s, s)`` gray to float ``(B, 3, s, s)`` normalised per channel (the expand to
    three channels happens in this one arithmetic pass), into ``out`` when given."""
    m = torch.tensor([255.0 * v for v in mean], device=x.device).view(1, 3, 1, 1)
    sd = torch.tensor([255.0 * v for v in std], device=x.device).view(1, 3, 1, 1)
    if out is None:
        out = torch.empty((x.shape[0], 3, x.shape[2], x.shape[3]), dtype=torch.float32, device=x.device)
    torch.sub(x.to(torch.float32), m, out=out)
    return out.div_(sd)


def erase(x: torch.Tensor, draws: BatchDraws) -> torch.Tensor:
    """timm's RandomErasing, mode 'pixel': each drawn region gets per-pixel, per-channel N(0, 1)
    values (drawn on the CPU in sample order, so every device gets the same values)."""
    if not draws.erase:
        return x
    gen = torch.Generator().manual_seed(draws.erase_seed)
    C = x.shape[1]
    for b, top, left, h, w in draws.erase:
        noise = torch.randn((C, h, w), generator=gen, dtype=torch.float32)
        x[b, :, top:top + h, left:left + w] = noise.to(x.device, non_blocking=True)
    return x


def augment_batch(images: torch.Tensor, labels: torch.Tensor, recipe: Recipe, num_classes: int, seed: int,
                  out: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """The whole recipe on one batch: uint8 ``(B, 1, S, S)`` (any device) and int64 labels in
    ``[0, num_classes)`` -> float ``(B, 3, s, s)`` normalised images and float ``(B, num_classes)``
    soft targets, every draw from ``seed`` (the images written into ``out`` when given)."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 1 or images.shape[2] != images.shape[3]:
        raise ValueError(f"images must be a uint8 (B, 1, S, S) tensor, got {images.dtype} {tuple(images.shape)}")
    B, S = images.shape[0], images.shape[2]
    draws = draw_batch(seed, B, S, recipe)
    x = crop_resize(images, draws.crop, recipe.image_size, draws.flip)
    if recipe.randaug_config is not None and recipe.randaug_config.num_ops > 0:
        x = rand_augment(x, draws, recipe.randaug_config, recipe.fill)
    x = mix_images(x, draws)
    out = erase(normalize(x, recipe.mean, recipe.std, out), draws)
    targets = soft_targets(labels.to(images.device), num_classes, draws.lam, recipe.smoothing)
    return out, targets


# ------------------------------------------------------------------------------------------ sampler

def epoch_order(indices: np.ndarray, seed: int, epoch: int, rank: int, world_size: int, repeats: int) -> np.ndarray:
    """This rank's samples of an epoch, DeiT's repeated-augmentation sampler: the shuffled indices,
    each repeated ``repeats`` times in a row, padded to a multiple of the world size and dealt out
    round-robin (so the copies of an image go to different ranks), each rank keeping
    ``len(indices) // world_size`` of its share."""
    n = len(indices)
    gen = torch.Generator().manual_seed(derive_seed(seed, "order", epoch))
    order = indices[torch.randperm(n, generator=gen).numpy()]
    rep = np.repeat(order, repeats)
    per_rank = -(-n * repeats // world_size)
    total = per_rank * world_size
    if total > rep.size:
        rep = np.concatenate([rep, rep[:total - rep.size]])
    return rep[rank:total:world_size][: n // world_size]


# ------------------------------------------------------------------------------------------ loader

class _BufferPool:
    """Batch buffers recycled once nothing holds them any more: a fresh 40 MB tensor per batch
    costs its page faults every time (a large allocation goes straight back to the system when freed),
    which on a virtual machine can cost more than the whole recipe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrays: List[np.ndarray] = []
        self.lock = threading.Lock()

    def get(self, shape: Tuple[int, ...], dtype: Any = np.float32) -> torch.Tensor:
        with self.lock:
            return self._get(shape, np.dtype(dtype))

    def _get(self, shape: Tuple[int, ...], dtype: np.dtype) -> torch.Tensor:
        for a in self.arrays:
            # the list, the loop variable and getrefcount's argument: nothing else holds it
            if a.shape == shape and a.dtype == dtype and sys.getrefcount(a) <= 3:
                return torch.from_numpy(a)
        a = np.empty(shape, dtype=dtype)
        if len(self.arrays) < self.size:
            self.arrays.append(a)
        return torch.from_numpy(a)


class TrainLoader:
    """Batches of the training recipe from a dataset: ``for images, targets in loader`` gives float
    ``(B, 3, image_size, image_size)`` normalised images and float ``(B, num_classes)`` soft targets on
    ``device``.

    A background thread renders (or, for a stored dataset, reads) each batch with native threads,
    the GIL released, into pinned memory when the device is CUDA, ``prefetch`` batches ahead; on the
    CPU it also applies the recipe there, so rendering and augmentation overlap training. Works with
    any dataset that has ``render_batch(indices, out=..., threads=..., output="tensor")`` (or
    ``read(i)``), ``labels()``, ``classes``, ``num_classes``, ``image_size`` and ``len``.

    Args:
        dataset: a ``VisualAtomDataset`` (stored, manifest-only or a preset) of either family.
        batch_size: images per batch on this rank (batches are full; the rest of an epoch is dropped).
        image_size: the training crop's side.
        recipe: ``"paper"`` (default) or ``"none"``, or a :class:`Recipe`; any of its fields can be
            given as a keyword (``hflip=0.5``, ``randaug=None``, ``mixup=0``, ``reprob=0``,
            ``smoothing=0``, ``repeats=1``, ...).
        seed: every draw comes from ``(seed, epoch, step, rank)``.
        device: where the batches are augmented and delivered.
        threads: native rendering threads (default: torch's thread count).
        rank, world_size: this process's share of every epoch (DeiT's repeated-augmentation split).
        indices: the dataset indices to train on (default all, e.g. the first part of a holdout split).
        prefetch: batches prepared ahead.
    """

    def __init__(self, dataset: Any, batch_size: int, image_size: int = 224, recipe: "str | Recipe" = "paper",
                 seed: int = 0, device: "str | torch.device" = "cpu", threads: Optional[int] = None, rank: int = 0,
                 world_size: int = 1, indices: Optional[Sequence[int]] = None, prefetch: int = 2,
                 **recipe_overrides: Any) -> None:
        if not (type(batch_size) is int and batch_size >= 1):
            raise ValueError(f"batch_size={batch_size!r}: expected an integer >= 1")
        if not (type(seed) is int and 0 <= seed < 2 ** 63):
            raise ValueError(f"seed={seed!r}: expected an integer from 0 to 2**63 - 1")
        if not (type(world_size) is int and world_size >= 1):
            raise ValueError(f"world_size={world_size!r}: expected an integer >= 1")
        if not (type(rank) is int and 0 <= rank < world_size):
            raise ValueError(f"rank={rank!r}: expected an integer from 0 to world_size - 1 ({world_size - 1})")
        if threads is not None and not (type(threads) is int and 1 <= threads <= 1024):
            raise ValueError(f"threads={threads!r}: expected an integer from 1 to 1024, or None")
        if not (type(prefetch) is int and 1 <= prefetch <= 64):
            raise ValueError(f"prefetch={prefetch!r}: expected an integer from 1 to 64")
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError):
            raise ValueError(f"device={device!r}: expected a torch device such as 'cpu' or 'cuda'") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r}: PyTorch sees no CUDA device")
        self.recipe = make_recipe(recipe, image_size=image_size, **recipe_overrides)
        self.dataset = dataset
        self.batch_size, self.seed, self.rank, self.world_size = batch_size, seed, rank, world_size
        self.threads = threads or len(os.sched_getaffinity(0))
        self.prefetch = prefetch
        self._pool = _BufferPool(2 * (prefetch + self.threads + 2))
        self.num_classes = int(dataset.num_classes)
        labels = np.asarray(dataset.labels(), dtype=np.int64) - int(dataset.classes[0])
        n = len(dataset)
        if indices is None:
            self.indices = np.arange(n, dtype=np.int64)
        else:
            self.indices = np.asarray(indices, dtype=np.int64)
            if self.indices.ndim != 1 or (self.indices.size and (self.indices.min() < 0 or self.indices.max() >= n)):
                raise ValueError(f"indices: expected a 1-D sequence of dataset indices from 0 to {n - 1}")
        if self.indices.size == 0:
            raise ValueError("indices: no images to train on")
        self.labels = torch.from_numpy(labels)
        self.source_size = int(dataset.image_size)
        self.epoch = 0
        self.start_step = 0
        self._yielded = 0  # batches of the current epoch handed out (what state_dict saves)
        self._steps = len(self._order()) // batch_size
        if self._steps == 0:
            raise ValueError(f"batch_size={batch_size}: larger than an epoch on this rank "
                             f"({len(self._order())} images)")

    # -------------------------------------------------------------- schedule

    def _order(self, epoch: Optional[int] = None) -> np.ndarray:
        return epoch_order(self.indices, self.seed, self.epoch if epoch is None else epoch, self.rank,
                           self.world_size, self.recipe.repeats)

    def __len__(self) -> int:
        """Batches in an epoch (a resumed epoch yields the ones after its saved step)."""
        return self._steps

    def set_epoch(self, epoch: int) -> None:
        if not (type(epoch) is int and epoch >= 0):
            raise ValueError(f"epoch={epoch!r}: expected an integer >= 0")
        if epoch != self.epoch:
            self.start_step = self._yielded = 0
        self.epoch = epoch

    def batch_indices(self, step: int, epoch: Optional[int] = None) -> np.ndarray:
        """The dataset indices of batch ``step`` of an epoch on this rank."""
        order = self._order(epoch)
        return order[step * self.batch_size:(step + 1) * self.batch_size]

    def batch_seed(self, step: int, epoch: Optional[int] = None) -> int:
        return derive_seed(self.seed, "augment", self.epoch if epoch is None else epoch, step, self.rank)

    def _identity(self) -> Dict[str, Any]:
        return {"seed": self.seed, "batch_size": self.batch_size, "rank": self.rank, "world_size": self.world_size,
                "images": int(self.indices.size), "repeats": self.recipe.repeats}

    def state_dict(self, step: Optional[int] = None) -> Dict[str, Any]:
        """Where training stands: ``epoch`` and ``step`` (batches of it already consumed; default: the
        ones this loader has yielded)."""
        if step is None:
            step = self._yielded
        return dict(self._identity(), epoch=self.epoch, step=int(step))

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Continue from a saved position: the next iteration yields the batches after ``step`` of
        ``epoch``. A state from another configuration is refused (ValueError naming the key)."""
        if not isinstance(state, dict):
            raise ValueError(f"loader state must be a dict, got {type(state).__name__}")
        for key, want in self._identity().items():
            if state.get(key) != want:
                raise ValueError(f"loader state has {key}={state.get(key)!r}, this loader has {key}={want!r}")
        epoch, step = state.get("epoch"), state.get("step")
        if not (type(epoch) is int and epoch >= 0):
            raise ValueError(f"loader state has epoch={epoch!r}: expected an integer >= 0")
        if not (type(step) is int and 0 <= step <= self._steps):
            raise ValueError(f"loader state has step={step!r}: expected an integer from 0 to {self._steps}")
        self.epoch, self.start_step, self._yielded = epoch, step, step

    # -------------------------------------------------------------- batches

    def _load(self, idx: np.ndarray, threads: int) -> torch.Tensor:
        """uint8 (B, 1, S, S) images of dataset indices ``idx`` (pinned for a CUDA device)."""
        S = self.source_size
        if self.device.type == "cuda":
            out = torch.empty((idx.size, 1, S, S), dtype=torch.uint8, pin_memory=True)
        else:
            out = self._pool.get((idx.size, 1, S, S), np.uint8)
        if getattr(self.dataset, "rendering", True):
            self.dataset.render_batch(idx, out=out, threads=threads, output="tensor")
        else:  # stored shards: pread into the batch (the GIL is released while reading)
            arr = out.numpy()
            for k, i in enumerate(idx.tolist()):
                arr[k, 0] = self.dataset.read(i)[0]
        return out

    def _make(self, step: int, epoch: int, on_device: bool, threads: int) -> Tuple[torch.Tensor, torch.Tensor]:
        idx = self.batch_indices(step, epoch)
        images = self._load(idx, threads)
        labels = self.labels[torch.from_numpy(idx)]
        if not on_device:
            return images, labels
        images = images.to(self.device, non_blocking=True)
        out = None
        if self.device.type == "cpu":
            s = self.recipe.image_size
            out = self._pool.get((idx.size, 3, s, s))
        return augment_batch(images, labels, self.recipe, self.num_classes, self.batch_seed(step, epoch), out)

    def batch(self, step: int, epoch: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Batch ``step`` of an epoch, made now in this thread (the same bytes iteration yields)."""
        return self._make(step, self.epoch if epoch is None else epoch, True, self.threads)

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """On the CPU, ``threads`` worker threads make whole batches (the recipe on one torch thread
        each: parallel over batches, which a shared machine disturbs far less than parallel regions
        inside every small op; a dataset renders one batch at a time, on ``threads`` native threads);
        on CUDA, one thread renders ahead and the recipe runs on the device in the consuming thread."""
        epoch, first, steps = self.epoch, self.start_step, self._steps
        self.start_step = 0
        self._yielded = first
        cpu = self.device.type == "cpu"
        workers = self.threads if cpu else 1
        ahead = self.prefetch + workers
        ready: Dict[int, Any] = {}
        cond = threading.Condition()
        stop = [False]

        def work(w: int) -> None:
            if cpu:
                torch.set_num_threads(1)  # this thread's own parallel regions only
            for step in range(first + w, steps, workers):
                with cond:
                    while not stop[0] and step >= self._yielded + ahead:
                        cond.wait(0.1)
                    if stop[0]:
                        return
                try:
                    item: Any = self._make(step, epoch, cpu, self.threads)
                except BaseException as e:  # handed to the consumer, raised there
                    item = e
                with cond:
                    ready[step] = item
                    cond.notify_all()
                if isinstance(item, BaseException):
                    return

        pool = [threading.Thread(target=work, args=(w,), name=f"vatom-train-input-{w}", daemon=True)
                for w in range(min(workers, steps - first))]
        for t in pool:
            t.start()
        try:
            for step in range(first, steps):
                with cond:
                    while step not in ready:
                        cond.wait(0.1)
                    item = ready.pop(step)
                if isinstance(item, BaseException):
                    raise item
                if not cpu:
                    images, labels = item
                    images = images.to(self.device, non_blocking=True)
                    item = augment_batch(images, labels, self.recipe, self.num_classes, self.batch_seed(step, epoch))
                with cond:
                    self._yielded = step + 1
                    cond.notify_all()
                yield item
        finally:
            with cond:
                stop[0] = True
                cond.notify_all()
            for t in pool:
                t.join()


def eval_batch(images: torch.Tensor, size: int, mean: Sequence[float] = IMAGENET_MEAN,
               std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """Held-out input: whole uint8 ``(B, 1, S, S)`` images resized (PIL's antialiased bicubic) and
    normalised to float ``(B, 3, size, size)``."""
    B, S = images.shape[0], images.shape[2]
    crop = torch.tensor([[0, 0, S, S]], dtype=torch.int64).expand(B, 4)
    return normalize(crop_resize(images, crop, size), mean, std)


__all__ = [
    "TrainLoader", "Recipe", "RandAugmentConfig", "RECIPES", "make_recipe", "augment_batch", "draw_batch",
    "draw_crops", "crop_resize", "rand_augment", "mix_images", "soft_targets", "normalize", "erase",
    "epoch_order", "eval_batch", "derive_seed", "IMAGENET_MEAN", "IMAGENET_STD", "GRAY_FILL",
]
