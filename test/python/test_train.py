"""vatom_fast.train: each batched op against PIL/torchvision on the same parameters, the drawn parameters
against torchvision's and timm's samplers, and the loader's determinism, exact resume and sampler."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
PIL = pytest.importorskip("PIL")
from PIL import Image, ImageEnhance, ImageOps  # noqa: E402

from conftest import write_dataset  # noqa: E402
from vatom_fast import train as T  # noqa: E402


def gray_images(n: int, size: int, seed: int) -> np.ndarray:
    """Gray images of the kinds the ops meet: noise, few levels, narrow ranges, thin lines, flat."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        kind = k % 6
        if kind == 0:
            a = rng.integers(0, 256, (size, size))
        elif kind == 1:
            a = rng.choice([0, 255], (size, size), p=[0.9, 0.1])
        elif kind == 2:
            a = rng.integers(60, 90, (size, size))
        elif kind == 3:
            a = np.zeros((size, size))
            a[rng.integers(0, size, 12), :] = 255
            a[:, rng.integers(0, size, 5)] = 180
        elif kind == 4:
            a = np.full((size, size), rng.integers(0, 256))
        else:
            yy, xx = np.mgrid[0:size, 0:size]
            a = 127 + 120 * np.sin(xx / (3 + k % 7)) * np.cos(yy / (4 + k % 5))
        out.append(np.clip(a, 0, 255).astype(np.uint8))
    return np.stack(out)


def timm_arg(name: str, level: float, negate: bool):
    """timm's level-to-argument functions, written out from auto_augment.py for comparison."""
    s = -1 if negate else 1
    if name == "PosterizeIncreasing":
        return 4 - int(level / 10 * 4)
    if name == "SolarizeIncreasing":
        return 256 - int(level / 10 * 256)
    if name == "SolarizeAdd":
        return int(level / 10 * 110)
    if name.endswith("Increasing"):
        return max(0.1, 1.0 + s * (level / 10 * 0.9))
    if name == "Rotate":
        return level / 10 * 30 * s
    if name in ("ShearX", "ShearY"):
        return level / 10 * 0.3 * s
    if name in ("TranslateXRel", "TranslateYRel"):
        return level / 10 * 0.45 * s
    return None


def pil_op(name: str, img: np.ndarray, level: float, negate: bool, fill: int = T.GRAY_FILL) -> np.ndarray:
    """timm's op on a PIL image (RGB, as timm sees it) and back to one channel."""
    im = Image.fromarray(img).convert("RGB")
    arg = timm_arg(name, level, negate)
    geo = dict(resample=Image.BILINEAR, fillcolor=(fill,) * 3)
    size = img.shape[0]
    ops = {
        "AutoContrast": lambda: ImageOps.autocontrast(im),
        "Equalize": lambda: ImageOps.equalize(im),
        "Invert": lambda: ImageOps.invert(im),
        "PosterizeIncreasing": lambda: ImageOps.posterize(im, arg),
        "SolarizeIncreasing": lambda: ImageOps.solarize(im, arg),
        "SolarizeAdd": lambda: im.point([min(255, i + arg) if i < 128 else i for i in range(256)] * 3),
        "ColorIncreasing": lambda: ImageEnhance.Color(im).enhance(arg),
        "ContrastIncreasing": lambda: ImageEnhance.Contrast(im).enhance(arg),
        "BrightnessIncreasing": lambda: ImageEnhance.Brightness(im).enhance(arg),
        "SharpnessIncreasing": lambda: ImageEnhance.Sharpness(im).enhance(arg),
        "Rotate": lambda: im.rotate(arg, **geo),
        "ShearX": lambda: im.transform(im.size, Image.AFFINE, (1, arg, 0, 0, 1, 0), **geo),
        "ShearY": lambda: im.transform(im.size, Image.AFFINE, (1, 0, 0, arg, 1, 0), **geo),
        "TranslateXRel": lambda: im.transform(im.size, Image.AFFINE, (1, 0, arg * size, 0, 1, 0), **geo),
        "TranslateYRel": lambda: im.transform(im.size, Image.AFFINE, (1, 0, 0, 0, 1, arg * size), **geo),
    }
    out = np.asarray(ops[name]())
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 0] == out[..., 2]).all()  # still gray
    return out[..., 0]


def apply_one_op(name: str, x: torch.Tensor, levels: torch.Tensor, negate: torch.Tensor) -> torch.Tensor:
    """``name`` on every image of ``x`` through rand_augment itself (one layer, always applied)."""
    n = x.shape[0]
    k = T.RAND_INCREASING_OPS.index(name)
    draws = T.BatchDraws(crop=None, flip=None, ops=torch.full((n, 1), k), apply=torch.ones((n, 1), dtype=torch.bool),
                         magnitude=levels.view(n, 1), negate=negate.view(n, 1), lam=1.0, use_cutmix=False,
                         cut_box=(0, 0, 0, 0), erase=[], erase_seed=0)
    return T.rand_augment(x, draws, T.RandAugmentConfig.parse("rand-m9-mstd0.5-inc1"), T.GRAY_FILL)


POINT_OPS = [n for n in T.RAND_INCREASING_OPS if n not in T.GEOMETRIC_OPS]


@pytest.mark.parametrize("name", POINT_OPS)
def test_colour_and_histogram_ops_equal_pil_exactly(name):
    imgs = gray_images(36, 40, seed=POINT_OPS.index(name))
    rng = np.random.default_rng(7)
    levels = np.concatenate([[0.0, 10.0, 5.0, 9.0], rng.uniform(0, 10, 32)])
    negate = rng.random(36) > 0.5
    got = apply_one_op(name, torch.from_numpy(imgs)[:, None], torch.tensor(levels), torch.tensor(negate))
    for k in range(len(imgs)):
        want = pil_op(name, imgs[k], float(levels[k]), bool(negate[k]))
        np.testing.assert_array_equal(got[k, 0].numpy(), want, err_msg=f"{name} image {k} level {levels[k]}")


@pytest.mark.parametrize("name", T.GEOMETRIC_OPS)
def test_geometric_ops_match_pil_bilinear_within_one_level(name):
    # tolerance: PIL interpolates in double precision, grid_sample in single: a value can land on the
    # other side of an integer (off by 1), on at most 0.5% of the pixels; fill and geometry are exact
    imgs = gray_images(24, 48, seed=3)
    rng = np.random.default_rng(11)
    levels = np.concatenate([[0.0, 10.0], rng.uniform(0, 10, 22)])
    negate = rng.random(24) > 0.5
    got = apply_one_op(name, torch.from_numpy(imgs)[:, None], torch.tensor(levels), torch.tensor(negate))
    diff = np.stack([np.abs(got[k, 0].numpy().astype(int) - pil_op(name, imgs[k], float(levels[k]), bool(negate[k])))
                     for k in range(len(imgs))])
    assert diff.max() <= 1 and (diff > 0).mean() < 0.005, (diff.max(), (diff > 0).mean())


def test_crop_resize_matches_torchvision_pil_bicubic():
    # tolerance: PIL's fixed-point coefficients against single-precision ones: off by 1 on < 0.1%
    import torchvision.transforms.functional as TF

    size = 160
    imgs = gray_images(24, size, seed=5)
    gen = torch.Generator().manual_seed(0)
    crop = T.draw_crops(gen, len(imgs), size, size, (0.08, 1.0), (3 / 4, 4 / 3))
    crop[0] = torch.tensor([0, 0, size, size])  # whole image
    crop[1] = torch.tensor([3, 5, 40, 30])  # upscaled
    flip = torch.tensor([k % 3 == 0 for k in range(len(imgs))])
    for out_size in (64, 96, 224):
        got = T.crop_resize(torch.from_numpy(imgs)[:, None], crop, out_size, flip)
        diffs = []
        for k in range(len(imgs)):
            top, left, h, w = crop[k].tolist()
            ref = TF.resized_crop(Image.fromarray(imgs[k]), top, left, h, w, [out_size, out_size],
                                  interpolation=TF.InterpolationMode.BICUBIC)
            if flip[k]:
                ref = ref.transpose(Image.FLIP_LEFT_RIGHT)
            diffs.append(np.abs(got[k, 0].numpy().astype(int) - np.asarray(ref)))
        d = np.stack(diffs)
        assert d.max() <= 1 and (d > 0).mean() < 0.001, (out_size, d.max(), (d > 0).mean())


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, grid, side="right") / a.size
                               - np.searchsorted(b, grid, side="right") / b.size)))


def ks_limit(n: int, m: int, alpha_coef: float = 1.95) -> float:
    """Two-sample KS critical value at alpha = 0.001."""
    return alpha_coef * math.sqrt((n + m) / (n * m))


def test_crop_parameters_follow_torchvision():
    from torchvision.transforms import RandomResizedCrop

    n, S = 4000, 300
    gen = torch.Generator().manual_seed(1)
    ours = T.draw_crops(gen, n, S, S, (0.08, 1.0), (3 / 4, 4 / 3)).numpy().astype(float)
    torch.manual_seed(2)
    img = torch.zeros(1, S, S)
    ref = np.array([RandomResizedCrop.get_params(img, [0.08, 1.0], [3 / 4, 4 / 3]) for _ in range(n)], dtype=float)
    for name, f in (("area", lambda p: p[:, 2] * p[:, 3]), ("aspect", lambda p: p[:, 3] / p[:, 2]),
                    ("top", lambda p: p[:, 0]), ("left", lambda p: p[:, 1])):
        d = ks_statistic(f(ours), f(ref))
        assert d < ks_limit(n, n), (name, d)
    assert (ours[:, 0] + ours[:, 2] <= S).all() and (ours[:, 1] + ours[:, 3] <= S).all()


def test_randaug_parameters_follow_timm():
    """timm's RandAugment: np.random.choice of 2 ops with replacement, each applied when
    random() <= 0.5, magnitude random.gauss(9, 0.5) clipped to 0..10, sign negated when random() > 0.5."""
    recipe = T.make_recipe("paper")
    n = 6000
    d = T.draw_batch(123, n, 64, recipe)
    random.seed(5)
    np.random.seed(5)
    ref_ops = np.random.choice(15, (n, 2), replace=True)
    ref_mag = np.array([max(0.0, min(10.0, random.gauss(9, 0.5))) for _ in range(2 * n)])
    counts = np.bincount(d.ops.flatten().numpy(), minlength=15)
    ref_counts = np.bincount(ref_ops.flatten(), minlength=15)
    expected = 2 * n / 15
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    ref_chi2 = float(((ref_counts - expected) ** 2 / expected).sum())
    assert chi2 < 36.1 and ref_chi2 < 36.1, (chi2, ref_chi2)  # chi2(14) at p = 0.001
    assert ks_statistic(d.magnitude.flatten().numpy(), ref_mag) < ks_limit(2 * n, 2 * n)
    assert abs(d.apply.double().mean().item() - 0.5) < 0.02
    assert abs(d.negate.double().mean().item() - 0.5) < 0.02
    assert d.magnitude.min() >= 0 and d.magnitude.max() <= 10


def test_mixup_and_cutmix_follow_timm():
    recipe = T.make_recipe("paper", reprob=0.0, randaug=None, image_size=32)
    x = torch.from_numpy(gray_images(8, 32, seed=9))[:, None]
    labels = torch.arange(8) % 5
    kinds = {True: 0, False: 0}
    lams = []
    for seed in range(400):
        d = T.draw_batch(seed, 8, 32, recipe)
        kinds[d.use_cutmix] += 1
        lams.append(d.lam)
        mixed = T.mix_images(x, d)
        if d.use_cutmix:
            y0, y1, x0, x1 = d.cut_box
            assert abs(d.lam - (1 - (y1 - y0) * (x1 - x0) / 32 ** 2)) < 1e-12
            inside = torch.zeros(32, 32, dtype=torch.bool)
            inside[y0:y1, x0:x1] = True
            assert torch.equal(mixed[:, 0][:, inside], x.flip(0)[:, 0][:, inside])
            assert torch.equal(mixed[:, 0][:, ~inside], x[:, 0][:, ~inside])
        elif seed < 40:
            want = np.rint(x.numpy().astype(np.float32) * np.float32(d.lam)
                           + x.flip(0).numpy().astype(np.float32) * np.float32(1 - d.lam)).astype(np.uint8)
            np.testing.assert_array_equal(mixed.numpy(), want)
        t = T.soft_targets(labels, 5, d.lam, 0.1)
        assert torch.allclose(t.sum(1), torch.ones(8), atol=1e-6)
        hot = torch.full((8, 5), 0.02)
        hot[torch.arange(8), labels] = 0.92
        assert torch.allclose(t, hot * d.lam + hot.flip(0) * (1 - d.lam), atol=1e-6)
    assert 160 < kinds[True] < 240  # switch probability 0.5
    assert all(0 <= v <= 1 for v in lams) and 0.35 < float(np.mean(lams)) < 0.65


def test_random_erasing_regions_and_values():
    recipe = T.make_recipe("paper", reprob=1.0, mixup=0.0, cutmix=0.0, randaug=None, image_size=64)
    images = torch.full((32, 1, 64, 64), 128, dtype=torch.uint8)
    out, _ = T.augment_batch(images, torch.zeros(32, dtype=torch.int64), recipe, 3, seed=4)
    base = T.normalize(torch.full((1, 1, 64, 64), 128, dtype=torch.uint8), recipe.mean, recipe.std)
    changed = (out != base).any(1)  # (B, 64, 64)
    areas = changed.flatten(1).sum(1).double() / 64 ** 2
    assert (areas >= 0.015).all() and (areas <= 0.34).all()
    erased = out.permute(1, 0, 2, 3)[:, changed]
    assert abs(erased.mean().item()) < 0.05 and abs(erased.std().item() - 1) < 0.05
    assert not torch.equal(erased[0], erased[1])  # per channel


def test_repeated_augmentation_order_across_ranks():
    idx = np.arange(100, 190)  # a subset of a dataset, 90 images
    for world in (1, 2, 3):
        parts = [T.epoch_order(idx, seed=3, epoch=1, rank=r, world_size=world, repeats=3) for r in range(world)]
        assert all(len(p) == 90 // world for p in parts)
        together = np.stack(parts, 1).flatten()  # dealt round robin: the shuffled, tripled list
        assert np.array_equal(together, np.repeat(together[::3], 3))
        assert set(together) <= set(idx.tolist()) and len(set(together)) == 30
        if world == 3:  # the three copies of an image go to the three ranks
            assert set(parts[0]) == set(parts[1]) == set(parts[2])
    a = T.epoch_order(idx, 3, 1, 0, 1, 3)
    assert np.array_equal(a, T.epoch_order(idx, 3, 1, 0, 1, 3))
    assert not np.array_equal(a, T.epoch_order(idx, 3, 2, 0, 1, 3))
    assert not np.array_equal(a, T.epoch_order(idx, 4, 1, 0, 1, 3))
    one = T.epoch_order(idx, 3, 1, 0, 1, 1)
    assert sorted(one) == list(idx)


class MemoryDataset:
    """The loader's whole contract with a dataset: any generator family fits it."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, start_class: int):
        self.images, self._labels, self.start = images, labels, start_class
        self.image_size = images.shape[1]
        self.num_classes = int(labels.max() - start_class + 1)
        self.classes = list(range(start_class, start_class + self.num_classes))

    def __len__(self):
        return len(self.images)

    def labels(self):
        return self._labels.astype(np.int64)

    def render_batch(self, indices, out, threads, output):
        out.numpy()[:, 0] = self.images[np.asarray(indices)]
        return out, None


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("train") / "ds", classes=4, instances=12, size=48, start_class=7,
                         shard_counts=(20, 20, 8), seed=3)


def collect(loader, limit=None):
    out = []
    for x, y in loader:
        out.append((x.clone(), y.clone()))
        if len(out) == limit:  # a training loop checkpointing after this step
            break
    return out


def test_loader_reads_stored_shards_as_the_render_path_would(stored):
    from vatom_fast import VisualAtomDataset

    ds = VisualAtomDataset(stored.root, output="tensor", channels=1)
    mem = MemoryDataset(stored.images, stored.labels, 7)
    kw = dict(batch_size=8, image_size=32, seed=5, threads=2)
    a, b = collect(T.TrainLoader(ds, **kw)), collect(T.TrainLoader(mem, **kw))
    assert len(a) == len(b) == 48 // 8
    for (xa, ya), (xb, yb) in zip(a, b):
        assert xa.shape == (8, 3, 32, 32) and xa.dtype == torch.float32 and ya.shape == (8, 4)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert torch.allclose(ya.sum(1), torch.ones(8), atol=1e-6)


def test_loader_is_deterministic_and_thread_count_free(stored):
    mem = MemoryDataset(stored.images, stored.labels, 7)
    kw = dict(batch_size=8, image_size=32)
    a = collect(T.TrainLoader(mem, seed=1, threads=1, **kw))
    b = collect(T.TrainLoader(mem, seed=1, threads=3, **kw))
    c = collect(T.TrainLoader(mem, seed=2, threads=2, **kw))
    assert all(torch.equal(x, y) and torch.equal(t, u) for (x, t), (y, u) in zip(a, b))
    assert not torch.equal(a[0][0], c[0][0])
    direct = T.TrainLoader(mem, seed=1, threads=1, **kw).batch(2)
    assert torch.equal(direct[0], a[2][0]) and torch.equal(direct[1], a[2][1])


def test_loader_resumes_mid_epoch_exactly(stored):
    mem = MemoryDataset(stored.images, stored.labels, 7)
    kw = dict(batch_size=6, image_size=32, seed=9, threads=2)
    full = T.TrainLoader(mem, **kw)
    full.set_epoch(2)
    whole = collect(full)
    first = T.TrainLoader(mem, **kw)
    first.set_epoch(2)
    head = collect(first, limit=3)
    state = first.state_dict()
    assert state["epoch"] == 2 and state["step"] == 3
    resumed = T.TrainLoader(mem, **kw)
    resumed.load_state_dict(state)
    tail = collect(resumed)
    assert len(head) + len(tail) == len(whole) == len(full)
    for (x, y), (u, v) in zip(head + tail, whole):
        assert torch.equal(x, u) and torch.equal(y, v)
    first.set_epoch(3)  # a new epoch starts at its first batch
    assert first.state_dict()["epoch"] == 3 and first.state_dict()["step"] == 0
    assert first.state_dict(step=0)["step"] == 0
    nxt = T.TrainLoader(mem, **kw)
    nxt.set_epoch(3)
    assert not torch.equal(collect(nxt, limit=1)[0][0], whole[0][0])
    with pytest.raises(ValueError, match="seed=9"):
        T.TrainLoader(mem, **dict(kw, seed=10)).load_state_dict(state)
    with pytest.raises(ValueError, match="step="):
        T.TrainLoader(mem, **kw).load_state_dict(dict(state, step=10 ** 6))


def test_loader_options_are_checked_by_name(stored):
    mem = MemoryDataset(stored.images, stored.labels, 7)
    with pytest.raises(TypeError, match="'hflipp'"):
        T.TrainLoader(mem, 8, hflipp=0.5)
    for kw, words in ((dict(hflip=2), "hflip=2"), (dict(recipe="fast"), "recipe='fast'"),
                      (dict(randaug="rand-m9-x3"), "unknown section 'x3'"), (dict(batch_size=0), "batch_size=0"),
                      (dict(rank=2, world_size=2), "rank=2"), (dict(batch_size=1000), "larger than an epoch"),
                      (dict(image_size=4), "image_size=4"), (dict(mixup=-1), "mixup=-1")):
        args = dict(dict(batch_size=8), **kw)
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace("[", r"\[")):
            T.TrainLoader(mem, **args)
    # every step can be switched off: then the images are the plain resized crops
    x, y = T.TrainLoader(mem, 8, image_size=48, recipe="none").batch(0)
    idx = T.TrainLoader(mem, 8, image_size=48, recipe="none").batch_indices(0)
    want = T.normalize(torch.from_numpy(stored.images[idx])[:, None], T.IMAGENET_MEAN, T.IMAGENET_STD)
    assert torch.allclose(x, want, atol=1e-6)
    assert torch.equal(y, torch.nn.functional.one_hot(torch.from_numpy(stored.labels[idx] - 7).long(), 4).float())


def test_loader_renders_a_preset(monkeypatch):
    from vatom_fast import NativeUnavailable, VisualAtomDataset

    try:
        ds = VisualAtomDataset.preset("visualatom-1k", seed=0, classes=3, instances=8)
    except NativeUnavailable as e:
        pytest.skip(str(e))
    loader = T.TrainLoader(ds, 8, image_size=64, seed=0, threads=2)
    batches = collect(loader)
    assert len(batches) == len(loader) == 3
    x, y = batches[0]
    assert x.shape == (8, 3, 64, 64) and y.shape == (8, 3)
    idx = loader.batch_indices(0)
    raw, labels = ds.render_batch(idx, output="tensor", threads=1)
    again = T.augment_batch(raw, labels, loader.recipe, 3, loader.batch_seed(0))
    assert torch.equal(again[0], x) and torch.equal(again[1], y)
