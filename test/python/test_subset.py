"""Shard subsets: shards="present" (only the shards on this disk) and shards=[k, ...]."""

from __future__ import annotations

import os
import pickle
import shutil
from collections import Counter

import numpy as np
import pytest

from vatom_fast import DatasetError, VisualAtomDataset, load_manifest

from conftest import write_dataset


@pytest.fixture
def split(tmp_path):
    """Three shards (5, 5, 2 images) that split classes, start class 7."""
    return write_dataset(tmp_path / "ds", classes=4, instances=3, size=16, start_class=7,
                         shard_counts=(5, 5, 2), label_align=64, seed=99)


def _remove_shard(syn, k):
    for kind in ("images", "labels"):
        os.remove(syn.root / f"{kind}-{k:05d}.npy")


def _check_subset(ds, syn, global_indices):
    global_indices = list(global_indices)
    assert len(ds) == len(global_indices)
    assert np.array_equal(ds.labels(), syn.labels[global_indices].astype(np.int64))
    for i, g in enumerate(global_indices):
        img, label = ds[i]
        assert np.array_equal(img, syn.images[g]) and label == syn.labels[g]
        assert ds.global_index(i) == g and ds.class_of(i) == syn.labels[g]
    assert np.array_equal(ds[-1][0], syn.images[global_indices[-1]])
    with pytest.raises(IndexError):
        ds[len(global_indices)]


def test_present_skips_missing_shard(split):
    _remove_shard(split, 1)
    with pytest.raises(DatasetError, match='missing file images-00001.npy.*shards="present"'):
        VisualAtomDataset(split.root)  # still an error by default
    ds = VisualAtomDataset(split.root, output="numpy", channels=1, shards="present")
    _check_subset(ds, split, [0, 1, 2, 3, 4, 10, 11])
    assert ds.shard_indices == (0, 2) and ds.shard_sizes == (5, 2) and ds.is_subset
    assert ds.locate(5) == (1, 0) and ds.shards[1].first == 10
    # classes and label values stay the whole dataset's (a model head does not depend on the node)
    assert ds.num_classes == 4 and ds.classes == [7, 8, 9, 10]
    assert "shards=2/3" in repr(ds)
    rel = VisualAtomDataset(split.root, output="numpy", shards="present", relative_labels=True)
    assert rel.labels().tolist() == [0, 0, 0, 1, 1, 3, 3]


def test_present_with_all_files_is_the_whole_dataset(split):
    ds = VisualAtomDataset(split.root, output="numpy", channels=1, shards="present")
    assert not ds.is_subset and ds.shard_indices == (0, 1, 2)
    _check_subset(ds, split, range(12))
    assert VisualAtomDataset(split.root, shards="all").shard_indices == (0, 1, 2)


def test_explicit_list(split):
    _remove_shard(split, 1)
    ds = VisualAtomDataset(split.root, output="numpy", channels=1, shards=[2, 0])  # order does not matter
    assert ds.shard_indices == (0, 2)
    _check_subset(ds, split, [0, 1, 2, 3, 4, 10, 11])
    ds = VisualAtomDataset(split.root, output="numpy", channels=1, shards=(np.int64(2),))
    _check_subset(ds, split, [10, 11])
    with pytest.raises(DatasetError, match="missing file labels-00001.npy"):
        VisualAtomDataset(split.root, shards=[0, 1])  # an explicitly chosen shard must be there


def test_explicit_list_does_not_open_other_shards(split):
    p = split.root / "images-00001.npy"
    p.write_bytes(p.read_bytes()[:-1])  # truncated, but not selected
    ds = VisualAtomDataset(split.root, output="numpy", channels=1, shards=[0, 2])
    assert len(ds) == 7
    with pytest.raises(DatasetError, match="images-00001.npy size"):
        VisualAtomDataset(split.root, shards="present")  # present files are all checked


@pytest.mark.parametrize("bad, exc, msg", [
    ([], ValueError, "empty"),
    ([0, 0], ValueError, "more than once"),
    ([-1], ValueError, "start at 0"),
    ([3], ValueError, "has 3 shards"),
    ([True], TypeError, "not a shard index"),
    (["0"], TypeError, "not a shard index"),
    ([1.0], TypeError, "not a shard index"),
    ("some", ValueError, "present"),
    (5, TypeError, "list of shard indices"),
])
def test_bad_selection(split, bad, exc, msg):
    with pytest.raises(exc, match=msg):
        VisualAtomDataset(split.root, shards=bad)


def test_partly_present_shard_is_an_error(split):
    os.remove(split.root / "labels-00002.npy")
    with pytest.raises(DatasetError, match="shard 2 is only partly present: images-00002.npy exists but labels-00002.npy"):
        VisualAtomDataset(split.root, shards="present")


def test_none_present(split):
    for k in range(3):
        _remove_shard(split, k)
    with pytest.raises(DatasetError, match="no shard is present"):
        VisualAtomDataset(split.root, shards="present")


def test_present_still_validates(split, tmp_path):
    _remove_shard(split, 1)
    # a present file with the wrong size
    p = split.root / "images-00002.npy"
    good = p.read_bytes()
    p.write_bytes(good + b"\0")
    with pytest.raises(DatasetError, match="images-00002.npy size"):
        VisualAtomDataset(split.root, shards="present")
    p.write_bytes(good)
    # a manifest path that leaves the directory, on an absent shard, is refused all the same
    m = split.manifest()
    m["shards"][1]["images"] = "../images-00001.npy"
    split.write_manifest(m)
    shutil.copy(split.root / "images-00000.npy", tmp_path / "images-00001.npy")
    with pytest.raises(DatasetError, match=r'/shards/1/images \("../images-00001.npy"\) must match pattern'):
        VisualAtomDataset(split.root, shards="present")
    with pytest.raises(DatasetError, match="must match pattern"):
        VisualAtomDataset(split.root, shards=[0])
    m["shards"][1]["images"] = "images-00001.npy"
    split.write_manifest(m)
    # a present symlink that leaves the directory
    outside = tmp_path / "out"
    outside.mkdir()
    shutil.move(split.root / "labels-00002.npy", outside / "labels-00002.npy")
    os.symlink(outside / "labels-00002.npy", split.root / "labels-00002.npy")
    with pytest.raises(DatasetError, match="labels-00002.npy is a symbolic link"):
        VisualAtomDataset(split.root, shards="present")


def test_verify_checksums_on_subset(split):
    _remove_shard(split, 0)
    info = load_manifest(str(split.root), verify_checksums=True, shards="present")
    assert [s.index for s in info.shards] == [1, 2] and info.selected_images == 7 and info.image_count == 12
    p = split.root / "images-00002.npy"
    data = bytearray(p.read_bytes())
    data[-1] ^= 1
    p.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="images-00002.npy sha256"):
        VisualAtomDataset(split.root, verify_checksums=True, shards="present")


def test_subset_with_dataloader_and_distributed_sampler(split):
    torch = pytest.importorskip("torch")
    _remove_shard(split, 0)
    ds = VisualAtomDataset(split.root, output="tensor", channels=1, shards="present")
    ds[0]
    ds2 = pickle.loads(pickle.dumps(ds))
    assert len(ds2) == 7 and ds2.shard_indices == (1, 2)
    want = Counter((int(split.labels[g]), split.images[g].tobytes()) for g in range(5, 12))
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2, shuffle=True)
    got = Counter((int(y), x[0].numpy().tobytes()) for xs, ys in loader for x, y in zip(xs, ys))
    assert got == want
    per_rank = [list(torch.utils.data.DistributedSampler(ds, num_replicas=2, rank=r, seed=1)) for r in (0, 1)]
    assert len(per_rank[0]) == len(per_rank[1]) == 4
    assert set(per_rank[0]) | set(per_rank[1]) == set(range(7))
