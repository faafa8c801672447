"""ShardWindowSampler: a permutation per epoch, reads confined to a window of shards, DistributedSampler's split."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vatom_fast import ShardWindowSampler, VisualAtomDataset  # noqa: E402


class Shards:
    """Stands in for a dataset: only the length and the shard sizes matter to the sampler."""

    def __init__(self, sizes):
        self.shard_sizes = tuple(sizes)

    def __len__(self):
        return sum(self.shard_sizes)

    def shard_of(self, indices):
        bounds = np.cumsum(self.shard_sizes)
        return np.searchsorted(bounds, np.asarray(indices), side="right")


def _epochs(sampler, epochs):
    out = []
    for e in epochs:
        sampler.set_epoch(e)
        out.append(list(sampler))
    return out


@pytest.mark.parametrize("window", [1, 7, 50, 120, 10_000])
@pytest.mark.parametrize("sizes", [[50] * 20 + [37], [13], [1, 2, 3, 40, 5]])
def test_each_epoch_is_a_permutation(sizes, window):
    ds = Shards(sizes)
    n = len(ds)
    s = ShardWindowSampler(ds, window_images=window, seed=3)
    assert len(s) == n
    for order in _epochs(s, range(4)):
        assert len(order) == n and sorted(order) == list(range(n))
        assert all(type(i) is int for i in order[:5])


def test_one_shard_index_distance_is_bounded():
    # With one shard the shard order is trivial: every sample is within a window of its position.
    n, w = 1000, 64
    s = ShardWindowSampler(Shards([n]), window_images=w, seed=1)
    for order in _epochs(s, range(5)):
        order = np.array(order)
        assert np.abs(order - np.arange(n)).max() < w
        for p in range(0, n - w + 1, 7):  # any w consecutive samples span fewer than 3w indices
            stretch = order[p:p + w]
            assert stretch.max() - stretch.min() < 3 * w
        assert np.abs(order - np.arange(n)).max() > w // 2  # and it does shuffle inside the window
        assert (np.diff(order) != 1).mean() > 0.9


@pytest.mark.parametrize("w", [30, 120, 400])
def test_windows_touch_few_shards(w):
    ds = Shards([50] * 40)  # 2000 images
    s = ShardWindowSampler(ds, window_images=w, seed=0)
    bound = math.ceil((3 * w - 2) / 50) + 1  # w outputs lie in <= 2 windows = < 3w consecutive inputs
    for order in _epochs(s, range(3)):
        shards = ds.shard_of(order)
        worst = max(len(set(shards[p:p + w].tolist())) for p in range(0, len(order) - w + 1))
        assert worst <= bound
    # a full shuffle would touch nearly every shard in any w samples
    full = ds.shard_of(np.random.default_rng(0).permutation(len(ds)))
    assert len(set(full[:120].tolist())) > 3 * (math.ceil((3 * 120 - 2) / 50) + 1)


def test_shard_order_is_shuffled_and_images_mixed():
    ds = Shards([100] * 10)
    s = ShardWindowSampler(ds, window_images=300, seed=0)
    first_shards = set()
    for order in _epochs(s, range(8)):
        shards = ds.shard_of(order)
        first_shards.add(int(shards[0]))
        # shards are interleaved inside a window, not read one after the other
        assert (np.diff(shards) != 0).sum() > 100
        assert order != sorted(order)
    assert len(first_shards) >= 4  # the epoch does not always start at shard 0


def test_epochs_and_seeds_differ_and_repeat():
    ds = Shards([40] * 10)
    a = ShardWindowSampler(ds, window_images=100, seed=0)
    b = ShardWindowSampler(ds, window_images=100, seed=0)
    c = ShardWindowSampler(ds, window_images=100, seed=1)
    ea, eb, ec = _epochs(a, range(3)), _epochs(b, range(3)), _epochs(c, range(3))
    assert ea == eb  # a pure function of (seed, epoch)
    assert ea[0] != ea[1] != ea[2] and ea[0] != ea[2]
    assert ea[0] != ec[0]
    a.set_epoch(1)
    assert list(a) == ea[1] and list(a) == ea[1]  # iterating twice gives the same epoch


def test_default_window_is_four_shards():
    s = ShardWindowSampler(Shards([10, 30, 20]))
    assert s.window_images == 120


@pytest.mark.parametrize("n", [1, 2, 17, 100, 101])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_split_matches_distributed_sampler(n, replicas, drop_last):
    class Sized:
        shard_sizes = (n,)

        def __len__(self):
            return n

    ds = Sized()
    for rank in range(replicas):
        ref = torch.utils.data.DistributedSampler(ds, num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        ours = ShardWindowSampler(ds, num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(ref)  # same layout, padding and cut as DistributedSampler
        shuffled = ShardWindowSampler(ds, window_images=8, num_replicas=replicas, rank=rank, drop_last=drop_last)
        assert len(shuffled) == len(ref) == len(list(shuffled))


@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_disjoint_and_cover(drop_last):
    ds = Shards([30] * 6 + [11])  # 191 images: 191 % 4 == 3
    n, R = len(ds), 4
    for epoch in (0, 5):
        per_rank = []
        for r in range(R):
            s = ShardWindowSampler(ds, window_images=64, seed=9, num_replicas=R, rank=r, drop_last=drop_last)
            s.set_epoch(epoch)
            per_rank.append(list(s))
        lens = {len(x) for x in per_rank}
        assert len(lens) == 1
        allidx = [i for x in per_rank for i in x]
        counts = Counter(allidx)
        if drop_last:
            assert len(allidx) == R * (n // R) == len(counts)  # disjoint, only the tail is dropped
        else:
            total = R * -(-n // R)
            assert len(allidx) == total and set(counts) == set(range(n))
            assert sum(c - 1 for c in counts.values()) == total - n  # overlap = padding only
        # interleaved: the ranks together walk the epoch's sequence
        whole = s.epoch_order().tolist()
        merged = [per_rank[j % R][j // R] for j in range(len(allidx))]
        assert merged[:min(n, len(merged))] == whole[:min(n, len(merged))]


def test_bad_arguments():
    ds = Shards([10, 10])
    for kw in (dict(window_images=0), dict(window_images=2.5), dict(seed=-1), dict(num_replicas=0, rank=0),
               dict(num_replicas=2, rank=2), dict(num_replicas=2, rank=-1)):
        with pytest.raises(ValueError):
            ShardWindowSampler(ds, **kw)
    with pytest.raises(TypeError, match="shard_sizes"):
        ShardWindowSampler(list(range(10)))

    class Wrong(Shards):
        def __len__(self):
            return 5

    with pytest.raises(ValueError, match="add up"):
        ShardWindowSampler(Wrong([3, 3]))


@pytest.mark.parametrize("workers", [0, 2])
def test_with_dataset_and_dataloader(tmp_path, workers):
    from conftest import write_dataset

    syn = write_dataset(tmp_path / "ds", classes=6, instances=5, size=16, shard_counts=(8, 8, 8, 6))
    ds = VisualAtomDataset(syn.root, output="tensor", channels=1)
    assert ds.shard_sizes == (8, 8, 8, 6)
    s = ShardWindowSampler(ds, window_images=10, seed=2)
    s.set_epoch(1)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, sampler=s, num_workers=workers)
    seen = []
    for imgs, labels in loader:
        for img, label in zip(imgs, labels):
            i = int(np.flatnonzero((syn.images == img[0].numpy()).all(axis=(1, 2)))[0])
            assert int(label) == syn.labels[i]
            seen.append(i)
    assert seen == list(s)
    assert sorted(seen) == list(range(30))


# ------------------------------------------------------------------ resume, subsets, held-out split

@pytest.mark.parametrize("replicas", [1, 3])
def test_resume_at_every_position_continues_the_epoch(replicas):
    ds = Shards([7] * 6 + [4])  # 46 images: padding for 3 ranks
    make = lambda r: ShardWindowSampler(ds, window_images=10, seed=5, num_replicas=replicas, rank=r)  # noqa: E731
    for r in range(replicas):
        ref = make(r)
        ref.set_epoch(2)
        whole = list(ref)
        for consumed in range(len(whole) + 1):
            s = make(r)
            s.set_epoch(2)
            it = iter(s)
            head = [next(it) for _ in range(consumed)]
            state = s.state_dict()  # default: what the iteration has yielded
            assert state == s.state_dict(consumed=consumed)
            fresh = make(r)
            fresh.load_state_dict(state)
            assert fresh.epoch == 2 and len(fresh) == len(whole) - consumed
            assert head + list(fresh) == whole
            assert list(fresh) == whole  # only the first iteration after loading is shortened
            fresh.set_epoch(3)
            ref.set_epoch(3)
            assert list(fresh) == list(ref)


def test_resume_state_from_set_epoch_and_nested_resume():
    ds = Shards([10] * 5)
    s = ShardWindowSampler(ds, window_images=16, seed=1, num_replicas=2, rank=1)
    s.set_epoch(4)
    whole = list(s)
    a = ShardWindowSampler(ds, window_images=16, seed=1, num_replicas=2, rank=1)
    a.load_state_dict(s.state_dict(consumed=5))
    assert a.state_dict(consumed=0)["offset"] == 10  # a global position: 5 samples on each of 2 ranks
    b = ShardWindowSampler(ds, window_images=16, seed=1, num_replicas=2, rank=1)
    b.load_state_dict(a.state_dict(consumed=7))  # resumed twice: 5 + 7 samples in
    assert list(b) == whole[12:]
    c = ShardWindowSampler(ds, window_images=16, seed=1, num_replicas=2, rank=1)
    c.set_epoch(5)
    assert c.state_dict(consumed=0) == {"epoch": 5, "offset": 0, "images": 50, "indices": None, "seed": 1,
                                        "window_images": 16, "shuffle": True, "num_replicas": 2, "drop_last": False}


def test_load_state_dict_rejects_a_different_sampler():
    ds = Shards([10] * 4)
    state = ShardWindowSampler(ds, window_images=8, seed=1, num_replicas=2, rank=0).state_dict(consumed=3)
    for kw, key in ((dict(seed=2), "seed"), (dict(window_images=9), "window_images"),
                    (dict(num_replicas=4), "num_replicas"), (dict(shuffle=False), "shuffle"),
                    (dict(indices=range(20)), "images")):
        args = dict(window_images=8, seed=1, num_replicas=2, rank=0)
        args.update(kw)
        with pytest.raises(ValueError, match=f"saved with {key}="):
            ShardWindowSampler(ds, **args).load_state_dict(state)
    # the same number of images, but other ones
    odd = ShardWindowSampler(ds, window_images=8, seed=1, indices=range(1, 40, 2)).state_dict(consumed=0)
    with pytest.raises(ValueError, match="saved with indices="):
        ShardWindowSampler(ds, window_images=8, seed=1, indices=range(0, 40, 2)).load_state_dict(odd)
    s = ShardWindowSampler(ds, window_images=8, seed=1, num_replicas=2, rank=0)
    for bad in (dict(state, offset=3), dict(state, offset=42), dict(state, offset=-2), dict(state, epoch=-1)):
        with pytest.raises(ValueError, match="bad"):
            s.load_state_dict(bad)
    with pytest.raises(ValueError, match="past the end"):
        s.state_dict(consumed=21)
    with pytest.raises(ValueError, match="consumed"):
        s.state_dict(consumed=-1)
    with pytest.raises(TypeError):
        s.load_state_dict([1, 2])


def test_indices_subset_keeps_the_whole_order_minus_the_rest():
    ds = Shards([12] * 5)
    keep = [i for i in range(60) if i % 12 < 9]
    full = ShardWindowSampler(ds, window_images=20, seed=3)
    sub = ShardWindowSampler(ds, window_images=20, seed=3, indices=keep)
    assert len(sub) == 45
    for e in range(3):
        full.set_epoch(e)
        sub.set_epoch(e)
        assert list(sub) == [i for i in full if i % 12 < 9]
    sub2 = ShardWindowSampler(ds, shuffle=False, indices=[5, 1, 30])
    assert list(sub2) == [1, 5, 30]
    for bad, msg in (([60], r"in \[0, 59\]"), ([-1], "in"), ([1, 1], "repeat"), ([[1, 2]], "1-D"), ([0.5], "integers")):
        with pytest.raises(ValueError, match=msg):
            ShardWindowSampler(ds, indices=bad)


def test_holdout_split_takes_the_last_instances_of_every_class(tmp_path):
    from conftest import write_dataset
    from vatom_fast import holdout_split

    syn = write_dataset(tmp_path / "ds", classes=4, instances=5, size=16, start_class=3, shard_counts=(7, 7, 6))
    ds = VisualAtomDataset(syn.root, output="numpy", channels=1)
    train, held = holdout_split(ds, 2)
    assert held.tolist() == [3, 4, 8, 9, 13, 14, 18, 19]
    assert sorted(train.tolist() + held.tolist()) == list(range(20))
    assert holdout_split(ds, 0)[1].tolist() == []
    # on a subset of shards the indices are the subset's, the split the whole dataset's
    part = VisualAtomDataset(syn.root, output="numpy", channels=1, shards=[1, 2])  # global images 7..19
    ptrain, pheld = holdout_split(part, 2)
    assert [part.global_index(int(i)) for i in pheld] == [8, 9, 13, 14, 18, 19]
    assert len(ptrain) + len(pheld) == 13
    for bad in (5, -1, 2.0, True):
        with pytest.raises(ValueError, match="per_class"):
            holdout_split(ds, bad)
    with pytest.raises(TypeError, match="instances"):
        holdout_split(Shards([4]), 1)
