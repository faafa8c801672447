"""Reading: every image and label, output modes, indexing, NumPy access to the shards."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections import Counter

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from vatom_fast import VisualAtomDataset, read_npy_header  # noqa: E402


def test_shards_are_plain_npy_with_data_at_4096(dataset_case):
    m = json.loads((dataset_case.root / "manifest.json").read_text())
    S = m["imageSize"]
    assert m["format"] == "vatom-fast" and m["version"] == (1 if dataset_case.synthetic is not None else 2) and m["complete"] is True
    assert m["imageCount"] == m["classes"] * m["instances"]
    first = 0
    for s in m["shards"]:
        assert s["first"] == first
        ipath, lpath = dataset_case.root / s["images"], dataset_case.root / s["labels"]
        img = np.load(ipath, mmap_mode="r")
        lab = np.load(lpath, mmap_mode="r")
        assert isinstance(img, np.memmap) and img.offset == 4096
        assert img.dtype == np.uint8 and img.shape == (s["count"], S, S) and img.flags.c_contiguous
        assert lab.dtype == np.dtype("<i4") and lab.shape == (s["count"],)
        assert read_npy_header(str(ipath)).data_offset == 4096
        assert ipath.stat().st_size == 4096 + s["count"] * S * S == s["imagesBytes"]
        assert lpath.stat().st_size == s["labelsBytes"]
        assert hashlib.sha256(ipath.read_bytes()).hexdigest() == s["imagesSha256"]
        assert hashlib.sha256(lpath.read_bytes()).hexdigest() == s["labelsSha256"]
        first += s["count"]
    assert first == m["imageCount"]


def test_synthetic_files_hold_what_was_written(dataset_case, expected):
    if dataset_case.synthetic is None:
        pytest.skip("only for the synthetic datasets")
    images, labels, _ = expected
    assert np.array_equal(images, dataset_case.synthetic.images)
    assert np.array_equal(labels, dataset_case.synthetic.labels)


def test_len_and_metadata(dataset_case, expected):
    images, labels, m = expected
    ds = VisualAtomDataset(dataset_case.root)
    assert len(ds) == m["imageCount"] == images.shape[0]
    assert ds.image_size == m["imageSize"]
    assert ds.num_classes == m["classes"]
    assert ds.classes == list(range(m["startClass"], m["startClass"] + m["classes"]))
    assert len(ds.shards) == len(m["shards"])
    assert ds.manifest["imageCount"] == m["imageCount"]


def test_labels(dataset_case, expected):
    images, labels, m = expected
    ds = VisualAtomDataset(dataset_case.root, output="numpy", channels=1)
    want = m["startClass"] + np.arange(m["imageCount"]) // m["instances"]
    assert np.array_equal(labels, want)
    got = ds.labels()
    assert got.dtype == np.int64 and np.array_equal(got, want)
    assert np.array_equal(ds.targets, want)
    for i in range(len(ds)):
        _, label = ds[i]
        assert type(label) is int and label == want[i] == ds.class_of(i)
    rel = VisualAtomDataset(dataset_case.root, output="numpy", relative_labels=True)
    assert np.array_equal(rel.labels(), want - m["startClass"])
    assert rel[len(rel) - 1][1] == m["classes"] - 1 and rel.classes == list(range(m["classes"]))


def test_every_image_numpy_one_channel(dataset_case, expected):
    images, _, _ = expected
    ds = VisualAtomDataset(dataset_case.root, output="numpy", channels=1)
    for i in range(len(ds)):
        img, _ = ds[i]
        assert img.dtype == np.uint8 and img.shape == images.shape[1:]
        assert img.tobytes() == images[i].tobytes()
        assert img.flags.writeable  # a copy, not a read-only view of the map


def test_numpy_rgb(dataset_case, expected):
    images, _, _ = expected
    ds = VisualAtomDataset(dataset_case.root, output="numpy")
    S = ds.image_size
    for i in range(len(ds)):
        img, _ = ds[i]
        assert img.shape == (S, S, 3) and img.dtype == np.uint8
        for c in range(3):
            assert np.array_equal(img[:, :, c], images[i])


def test_pil_default_rgb(dataset_case, expected):
    images, labels, _ = expected
    ds = VisualAtomDataset(dataset_case.root)
    S = ds.image_size
    for i in range(len(ds)):
        img, label = ds[i]
        assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (S, S)
        a = np.asarray(img)
        assert a.shape == (S, S, 3)
        assert np.array_equal(a[:, :, 0], images[i])
        assert np.array_equal(a[:, :, 0], a[:, :, 1]) and np.array_equal(a[:, :, 1], a[:, :, 2])
        assert label == labels[i]


def test_pil_one_channel(dataset_case, expected):
    images, _, _ = expected
    ds = VisualAtomDataset(dataset_case.root, output="pil", channels=1)
    img, _ = ds[1]
    assert img.mode == "L" and np.array_equal(np.asarray(img), images[1])


def test_tensor(dataset_case, expected):
    images, _, _ = expected
    S = images.shape[1]
    ds = VisualAtomDataset(dataset_case.root, output="tensor")
    ds1 = VisualAtomDataset(dataset_case.root, output="tensor", channels=1)
    for i in range(len(ds)):
        t, _ = ds[i]
        assert isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and tuple(t.shape) == (3, S, S)
        assert t.is_contiguous()
        for c in range(3):
            assert np.array_equal(t[c].numpy(), images[i])
        t1, _ = ds1[i]
        assert tuple(t1.shape) == (1, S, S) and np.array_equal(t1[0].numpy(), images[i])


def test_transforms(dataset_case, expected):
    images, labels, _ = expected
    ds = VisualAtomDataset(
        dataset_case.root, output="numpy", channels=1,
        transform=lambda a: int(a.astype(np.int64).sum()), target_transform=lambda y: ("cls", y),
    )
    for i in (0, len(ds) - 1):
        s, t = ds[i]
        assert s == int(images[i].astype(np.int64).sum()) and t == ("cls", int(labels[i]))


def test_negative_index_and_index_error(dataset_case, expected):
    images, labels, _ = expected
    ds = VisualAtomDataset(dataset_case.root, output="numpy", channels=1)
    n = len(ds)
    for i in (-1, -2, -n):
        img, label = ds[i]
        assert np.array_equal(img, images[n + i]) and label == labels[n + i]
    assert np.array_equal(ds[np.int64(2)][0], images[2])
    for bad in (n, n + 1, -n - 1, 10 ** 12):
        with pytest.raises(IndexError):
            ds[bad]
    with pytest.raises(TypeError):
        ds[1.5]
    # the old sequence-iteration protocol stops at the IndexError
    assert sum(1 for _ in ds) == n


def test_locate_matches_shard_ranges(dataset_case, expected):
    _, _, m = expected
    ds = VisualAtomDataset(dataset_case.root, output="numpy", channels=1)
    for k, s in enumerate(m["shards"]):
        assert ds.locate(s["first"]) == (k, 0)
        assert ds.locate(s["first"] + s["count"] - 1) == (k, s["count"] - 1)


def test_pickle_drops_open_files(dataset_case, expected):
    images, _, _ = expected
    ds = VisualAtomDataset(dataset_case.root, output="numpy", channels=1)
    ds[0], ds[len(ds) - 1]
    assert ds._reader.open_files >= 1
    state = ds._reader.__getstate__()
    assert "_files" not in state and "_label_cache" not in state
    assert not any(isinstance(v, np.memmap) for v in state.values())
    blob = pickle.dumps(ds)
    assert len(blob) < 100_000  # no image data travels
    ds2 = pickle.loads(blob)
    assert ds2._reader.open_files == 0
    assert np.array_equal(ds2[len(ds2) - 1][0], images[-1])


def test_max_open_shards_lru(dataset_case, expected):
    images, _, _ = expected
    ds = VisualAtomDataset(dataset_case.root, output="numpy", channels=1, max_open_shards=1)
    for i in list(range(len(ds))) + list(range(len(ds) - 1, -1, -1)):
        assert np.array_equal(ds[i][0], images[i])
        assert ds._reader.open_files <= 1


def test_verify_checksums_accepts_good_dataset(dataset_case):
    ds = VisualAtomDataset(dataset_case.root, verify_checksums=True)
    assert len(ds) > 0


def test_does_not_map_in_constructor(dataset_case, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("mapped or loaded in the constructor")

    monkeypatch.setattr(np, "memmap", boom)
    monkeypatch.setattr(np, "load", boom)
    monkeypatch.setattr(np, "fromfile", boom)
    ds = VisualAtomDataset(dataset_case.root)
    assert len(ds) > 0
    monkeypatch.undo()
    assert ds[0] is not None


# ---------------------------------------------------------------- DataLoader / DistributedSampler


def _collect(loader):
    got = Counter()
    order_imgs, order_labels = [], []
    for imgs, labels in loader:
        assert imgs.dtype == torch.uint8 and labels.dtype == torch.int64
        for img, label in zip(imgs, labels):
            got[(int(label), img[0].numpy().tobytes())] += 1
            order_imgs.append(img)
            order_labels.append(int(label))
    return got, order_imgs, order_labels


def _want(images, labels, indices=None):
    idx = range(len(labels)) if indices is None else indices
    return Counter((int(labels[i]), images[i].tobytes()) for i in idx)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers(dataset_case, expected, context):
    images, labels, _ = expected
    ds = VisualAtomDataset(dataset_case.root, output="tensor")
    ds[0]  # maps opened in the parent must not leak into (or break) the workers
    loader = torch.utils.data.DataLoader(
        ds, batch_size=4, num_workers=2, multiprocessing_context=context, shuffle=False,
    )
    got, imgs, labs = _collect(loader)
    assert got == _want(images, labels)  # every (image, label) exactly once
    assert labs == [int(x) for x in labels]  # in order
    for i, t in enumerate(imgs):
        assert tuple(t.shape) == (3,) + images.shape[1:]
        assert np.array_equal(t[2].numpy(), images[i])


def test_dataloader_shuffled_with_transform(dataset_case, expected):
    images, labels, _ = expected
    ds = VisualAtomDataset(dataset_case.root, output="pil", transform=_pil_to_tensor)
    g = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2, shuffle=True, generator=g)
    got, _, _ = _collect(loader)
    assert got == _want(images, labels)


def _pil_to_tensor(img):  # module level: picklable for workers
    a = np.asarray(img)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler(dataset_case, expected, shuffle, drop_last):
    images, labels, _ = expected
    ds = VisualAtomDataset(dataset_case.root, output="tensor")
    n = len(ds)
    per_rank = []
    for rank in (0, 1):
        sampler = torch.utils.data.DistributedSampler(
            ds, num_replicas=2, rank=rank, shuffle=shuffle, seed=5, drop_last=drop_last,
        )
        sampler.set_epoch(3)
        idx = list(sampler)
        assert len(idx) == len(sampler)
        per_rank.append(idx)
        loader = torch.utils.data.DataLoader(ds, batch_size=4, sampler=sampler, num_workers=0)
        got, _, _ = _collect(loader)
        assert got == _want(images, labels, idx)  # the rank reads exactly the images it was given
    r0, r1 = per_rank
    assert len(r0) == len(r1)
    allidx = r0 + r1
    if drop_last:
        # no padding: disjoint, and everything but the n % 2 dropped tail is covered
        assert len(allidx) == 2 * (n // 2)
        assert not set(r0) & set(r1)
        assert len(set(allidx)) == len(allidx)
    else:
        # padded to a multiple of 2 by repeating indices: the two ranks cover everything, and
        # overlap only in the padding
        total = 2 * -(-n // 2)
        assert len(allidx) == total
        assert set(allidx) == set(range(n))
        counts = Counter(allidx)
        assert sum(c - 1 for c in counts.values()) == total - n
        assert len(set(r0) & set(r1)) <= total - n
    if not shuffle:
        # the documented layout: rank r takes every 2nd index from r, over the (padded) range
        seq = list(range(n))
        seq = seq[: 2 * (n // 2)] if drop_last else seq + seq[: (-n) % 2]
        assert r0 == seq[0::2] and r1 == seq[1::2]
