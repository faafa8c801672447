"""A shuffling sampler that keeps reads inside a few shards at a time (datasets larger than RAM)."""

from __future__ import annotations

import math
from typing import Any, Iterator, Optional, Sequence

import numpy as np

try:  # torch is optional: without it the sampler is a plain iterable with __len__.
    import torch
    from torch.utils.data import Sampler as _Base
except (ImportError, OSError):  # pragma: no cover - exercised only without torch
    torch = None  # type: ignore[assignment]

    class _Base:  # type: ignore[no-redef]
        def __init__(self, data_source: Any = None) -> None:
            pass


def _dist_default(num_replicas: Optional[int], rank: Optional[int]):
    """``(num_replicas, rank)``: the arguments, else the initialized process group's, else (1, 0)."""
    if num_replicas is None or rank is None:
        world, me = 1, 0
        if torch is not None:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                world, me = dist.get_world_size(), dist.get_rank()
        num_replicas = world if num_replicas is None else num_replicas
        rank = me if rank is None else rank
    return num_replicas, rank


class ShardWindowSampler(_Base):
    """Shuffles the order of the shards, then the images inside a window of consecutive images.

    A full random shuffle (``shuffle=True`` / ``DistributedSampler``) reads a dataset that does not
    fit in RAM at random, so almost every read misses the page cache and goes to disk. This sampler
    keeps each stretch of ``window_images`` consecutive samples inside a few neighbouring shards:

    1. the shards are put in a random order (a new one every epoch);
    2. their images are laid end to end in that order, and that sequence is cut into windows of
       ``window_images`` consecutive images (at a random phase each epoch);
    3. the images inside each window are shuffled.

    Any ``window_images`` consecutive samples therefore come from at most about
    ``2 * window_images / shard_size + 2`` shards, so the working set in the page cache is a couple
    of windows, whatever the dataset size. Every epoch still visits every image exactly once.

    The price is less randomness than a full shuffle: shards are class-major, so a window holds
    only the classes of the shards it spans, and a batch draws its classes from those. Make the
    window hold many classes (at least several times the batch's worth of classes you want mixed,
    e.g. 8 to 16 classes or more; see the package README).

    Args:
        dataset: a :class:`VisualAtomDataset` (or any sized dataset with ``shard_sizes``, the image
            count of each shard in index order).
        window_images: images per shuffle window (the global window: with ``num_replicas`` ranks,
            each rank takes every ``num_replicas``-th sample of it). Default: 4 shards' worth
            (4 times the largest shard).
        shuffle: False gives the plain order ``0..n-1`` (split over ranks like DistributedSampler).
        seed: the permutation is a pure function of ``(seed, epoch)``; every rank must use the same.
        num_replicas, rank: split every epoch over ``num_replicas`` processes like
            ``DistributedSampler``: rank ``r`` takes samples ``r, r + num_replicas, ...`` of the
            epoch's sequence; the sequence is padded by repeating its start (or, with
            ``drop_last``, cut) to a multiple of ``num_replicas``, so all ranks have the same
            length. Default: the initialized ``torch.distributed`` group, else a single process.
        drop_last: cut the tail instead of padding (see ``num_replicas``).

    Call :meth:`set_epoch` at the start of each epoch, as with ``DistributedSampler``.
    """

    def __init__(
        self,
        dataset: Any,
        window_images: Optional[int] = None,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: Optional[int] = None,
        rank: Optional[int] = None,
        drop_last: bool = False,
    ) -> None:
        super().__init__(dataset)
        sizes = getattr(dataset, "shard_sizes", None)
        if sizes is None:
            raise TypeError(
                f"{type(dataset).__name__} has no shard_sizes: ShardWindowSampler needs a VisualAtomDataset "
                "(or a dataset that lists the image count of each shard)"
            )
        sizes = [int(c) for c in sizes]
        if not sizes or any(c < 1 for c in sizes):
            raise ValueError(f"shard_sizes must be a non-empty list of counts >= 1, got {sizes!r}")
        n = len(dataset)
        if sum(sizes) != n:
            raise ValueError(f"shard_sizes add up to {sum(sizes)}, but the dataset has {n} images")
        if window_images is None:
            window_images = 4 * max(sizes)
        if isinstance(window_images, bool) or not isinstance(window_images, (int, np.integer)) or window_images < 1:
            raise ValueError(f"window_images must be an integer >= 1, got {window_images!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        num_replicas, rank = _dist_default(num_replicas, rank)
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"num_replicas must be an integer >= 1, got {num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be an integer in [0, {num_replicas - 1}], got {rank!r}")

        self.shard_sizes: Sequence[int] = tuple(sizes)
        self._starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.n = n
        self.window_images = int(window_images)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        # DistributedSampler's sizes: equal per rank; pad up, or with drop_last cut down.
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of this epoch (every rank must pass the same number)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def epoch_order(self) -> np.ndarray:
        """The whole epoch's sequence of indices, before it is split over ranks (length ``len(dataset)``)."""
        dtype = np.int32 if self.n < 2 ** 31 else np.int64
        if not self.shuffle:
            return np.arange(self.n, dtype=dtype)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = np.empty(self.n, dtype=dtype)
        pos = 0
        for k in rng.permutation(len(self.shard_sizes)):
            c = self.shard_sizes[k]
            order[pos:pos + c] = np.arange(self._starts[k], self._starts[k] + c, dtype=dtype)
            pos += c
        w = self.window_images
        phase = int(rng.integers(0, w)) if w < self.n else 0
        if phase:
            rng.shuffle(order[:phase])
        for a in range(phase, self.n, w):
            rng.shuffle(order[a:a + w])  # a view: shuffles in place
        return order

    def __iter__(self) -> Iterator[int]:
        order = self.epoch_order()
        # DistributedSampler's rule: pad by repeating the sequence from its start, or cut the tail.
        order = np.resize(order, self.total_size) if self.total_size > self.n else order[: self.total_size]
        mine = order[self.rank:self.total_size:self.num_replicas]
        assert len(mine) == self.num_samples
        step = 1 << 16
        for a in range(0, len(mine), step):
            yield from mine[a:a + step].tolist()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(images={self.n}, shards={len(self.shard_sizes)}, window_images={self.window_images}, "
            f"shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch}, rank={self.rank}/{self.num_replicas}, "
            f"drop_last={self.drop_last})"
        )
