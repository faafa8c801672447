"""A real process group: 2 CPU processes (gloo), each reading its share through a DataLoader.

Each rank reads with DistributedSampler and with ShardWindowSampler, all_gather_object()s what it saw
(dataset index, label, image bytes), and rank 0 writes the gathered lists for the test to check.
"""

from __future__ import annotations

import datetime
import hashlib
import pickle
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
mp = pytest.importorskip("torch.multiprocessing")

from conftest import write_dataset  # noqa: E402

WORLD = 2
EPOCH = 3


def _skip_reason():
    if not dist.is_available():
        return "torch.distributed is not available in this PyTorch build"
    if not dist.is_gloo_available():
        return "the gloo backend is not available in this PyTorch build"
    return None


def _digest(img) -> str:
    return hashlib.sha1(img.numpy().tobytes()).hexdigest()


def _rank_main(rank, root, init_file, out_file):
    """Runs in each spawned process (module level, so spawn can import it)."""
    from vatom_fast import ShardWindowSampler, VisualAtomDataset

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))  # fail, not hang, if a peer dies
    try:
        assert dist.get_world_size() == WORLD and dist.get_rank() == rank
        ds = VisualAtomDataset(root, output="tensor", channels=1)
        samplers = {
            # num_replicas/rank come from the initialized group in both
            "distributed": torch.utils.data.DistributedSampler(ds, shuffle=True, seed=7),
            "window": ShardWindowSampler(ds, window_images=8, seed=7),
        }
        seen = {}
        for name, sampler in samplers.items():
            sampler.set_epoch(EPOCH)
            loader = torch.utils.data.DataLoader(ds, batch_size=4, sampler=sampler, num_workers=1)
            got = []
            for imgs, labels in loader:
                got += [(int(y), _digest(x)) for x, y in zip(imgs, labels)]
            seen[name] = {"indices": list(sampler), "items": got, "len": len(sampler)}
        gathered = [None] * WORLD
        dist.all_gather_object(gathered, seen)
        if rank == 0:
            with open(out_file, "wb") as f:
                pickle.dump(gathered, f)
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_two_process_gloo_world(tmp_path):
    # 23 images in 4 shards: odd, so DistributedSampler's padding repeats one index
    syn = write_dataset(tmp_path / "ds", classes=23, instances=1, size=16, shard_counts=(6, 6, 6, 5))
    n = 23
    out = tmp_path / "gathered.pkl"
    mp.spawn(_rank_main, args=(str(syn.root), str(tmp_path / "pg-init"), str(out)), nprocs=WORLD, join=True)
    gathered = pickle.loads(out.read_bytes())
    assert len(gathered) == WORLD

    truth = {i: (int(syn.labels[i]), hashlib.sha1(syn.images[i].tobytes()).hexdigest()) for i in range(n)}
    for name in ("distributed", "window"):
        ranks = [g[name] for g in gathered]
        for r in ranks:
            # what the DataLoader delivered is exactly the images the sampler assigned, in order
            assert r["items"] == [truth[i] for i in r["indices"]]
            assert r["len"] == len(r["indices"]) == -(-n // WORLD)
        r0, r1 = (set(r["indices"]) for r in ranks)
        assert r0 | r1 == set(range(n))  # complete coverage
        counts = Counter(ranks[0]["indices"] + ranks[1]["indices"])
        padding = WORLD * -(-n // WORLD) - n
        assert sum(c - 1 for c in counts.values()) == padding == 1  # disjoint except the padding
        assert len(r0 & r1) <= padding
    # both samplers used the same (seed, epoch) on both ranks: the interleave is one epoch's order
    from vatom_fast import ShardWindowSampler

    class Sizes:
        shard_sizes = (6, 6, 6, 5)

        def __len__(self):
            return n

    s = ShardWindowSampler(Sizes(), window_images=8, seed=7, num_replicas=1, rank=0)
    s.set_epoch(EPOCH)
    w0, w1 = (g["window"]["indices"] for g in gathered)
    merged = [x for pair in zip(w0, w1) for x in pair]
    assert merged[:n] == list(s)
    assert not np.array_equal(merged[:n], np.arange(n))
