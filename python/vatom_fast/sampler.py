"""A shuffling sampler that keeps reads inside a few shards at a time (datasets larger than RAM),
resumable mid-epoch, and the held-out split (the last instances of every class)."""

from __future__ import annotations

import hashlib
import math
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

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
        indices: sample only these dataset indices (e.g. the training part of :func:`holdout_split`).
            The epoch's sequence is the whole dataset's sequence with the other indices left out,
            so reads stay as local as without it.

    Call :meth:`set_epoch` at the start of each epoch, as with ``DistributedSampler``.

    Resuming: :meth:`state_dict` records the epoch and how far into it the ranks are;
    :meth:`load_state_dict` makes the next iteration over that epoch continue from there with the
    same sequence, so a restarted job sees exactly the samples the interrupted one had still to see.
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
        indices: Optional[Sequence[int]] = None,
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
        subset: Optional[np.ndarray] = None
        if indices is not None:
            subset = np.asarray(indices)
            if subset.ndim != 1 or (subset.size and subset.dtype.kind not in "iu"):
                raise ValueError(f"indices must be a 1-D sequence of integers, got {indices!r:.80}")
            subset = subset.astype(np.int64)
            if subset.size and (subset.min() < 0 or subset.max() >= n):
                raise ValueError(f"indices must lie in [0, {n - 1}], got values in [{subset.min()}, {subset.max()}]")
            if np.unique(subset).size != subset.size:
                raise ValueError("indices must not repeat an index")
        num_replicas, rank = _dist_default(num_replicas, rank)
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"num_replicas must be an integer >= 1, got {num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be an integer in [0, {num_replicas - 1}], got {rank!r}")

        self.shard_sizes: Sequence[int] = tuple(sizes)
        self._starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.dataset_size = n
        self._member: Optional[np.ndarray] = None
        self._subset_digest: Optional[str] = None  # which indices, for load_state_dict's check
        if subset is not None:
            self._member = np.zeros(n, dtype=bool)
            self._member[subset] = True
            self._subset_digest = hashlib.sha256(np.flatnonzero(self._member).tobytes()).hexdigest()[:16]
            n = int(subset.size)
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
        self._resume: Optional[Tuple[int, int]] = None  # (epoch, global offset) for the next __iter__
        self._offset = 0  # global position the running iteration started at
        self._yielded = 0  # samples the running iteration has handed out on this rank

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of this epoch (every rank must pass the same number)."""
        self.epoch = int(epoch)
        self._offset, self._yielded = self._pending_offset(), 0

    def __len__(self) -> int:
        """Samples the next iteration yields on this rank (fewer than an epoch right after a resume)."""
        return self.num_samples - self._pending_offset() // self.num_replicas

    def _pending_offset(self) -> int:
        if self._resume is not None and self._resume[0] == self.epoch:
            return self._resume[1]
        return 0

    def state_dict(self, consumed: Optional[int] = None) -> Dict[str, Any]:
        """Where the epoch stands, for :meth:`load_state_dict`.

        ``consumed``: samples this rank has used so far in the current epoch's iteration. Default:
        the number the iteration has yielded, which a DataLoader overstates (its workers prefetch);
        a training loop passes what it actually trained on (``steps_done * batch_size``). Every rank
        must have consumed the same number (they do when they run the same number of steps).
        """
        if consumed is None:
            consumed = self._yielded
        if isinstance(consumed, bool) or not isinstance(consumed, (int, np.integer)) or consumed < 0:
            raise ValueError(f"consumed must be an integer >= 0, got {consumed!r}")
        offset = self._offset + int(consumed) * self.num_replicas
        if offset > self.total_size:
            raise ValueError(
                f"consumed={consumed} goes past the end of the epoch "
                f"({(self.total_size - self._offset) // self.num_replicas} samples were left on this rank)"
            )
        return {
            "epoch": self.epoch, "offset": offset, "images": self.n, "indices": self._subset_digest, "seed": self.seed,
            "window_images": self.window_images, "shuffle": self.shuffle,
            "num_replicas": self.num_replicas, "drop_last": self.drop_last,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`: sets the epoch, and the next iteration over that epoch
        starts where the saved one stood (later iterations, and other epochs, start at 0). The
        sampler must describe the same epochs: same images, seed, window, shuffle, world size."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        mine = self.state_dict(consumed=0)
        for key in ("images", "indices", "seed", "window_images", "shuffle", "num_replicas", "drop_last"):
            if key not in state:
                raise ValueError(f"sampler state has no {key!r}")
            if state[key] != mine[key]:
                raise ValueError(
                    f"sampler state was saved with {key}={state[key]!r}, this sampler has {key}={mine[key]!r}: "
                    "an exact resume needs the same dataset, seed, window and world size"
                )
        epoch, offset = state.get("epoch"), state.get("offset")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"sampler state has a bad epoch: {epoch!r}")
        if (isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= self.total_size
                or offset % self.num_replicas):
            raise ValueError(
                f"sampler state has a bad offset: {offset!r} (a multiple of num_replicas in [0, {self.total_size}])"
            )
        self.epoch = epoch
        self._resume = (epoch, offset)
        self._offset, self._yielded = offset, 0

    def epoch_order(self) -> np.ndarray:
        """The whole epoch's sequence of indices, before it is split over ranks (length ``len(dataset)``)."""
        dtype = np.int32 if self.dataset_size < 2 ** 31 else np.int64
        if not self.shuffle:
            order = np.arange(self.dataset_size, dtype=dtype)
            return order if self._member is None else order[self._member]
        rng = np.random.default_rng([self.seed, self.epoch])
        n = self.dataset_size
        order = np.empty(n, dtype=dtype)
        pos = 0
        for k in rng.permutation(len(self.shard_sizes)):
            c = self.shard_sizes[k]
            order[pos:pos + c] = np.arange(self._starts[k], self._starts[k] + c, dtype=dtype)
            pos += c
        w = self.window_images
        phase = int(rng.integers(0, w)) if w < n else 0
        if phase:
            rng.shuffle(order[:phase])
        for a in range(phase, n, w):
            rng.shuffle(order[a:a + w])  # a view: shuffles in place
        return order if self._member is None else order[self._member[order]]

    def __iter__(self) -> Iterator[int]:
        order = self.epoch_order()
        # DistributedSampler's rule: pad by repeating the sequence from its start, or cut the tail.
        order = np.resize(order, self.total_size) if self.total_size > self.n else order[: self.total_size]
        offset = self._pending_offset()
        self._resume = None
        self._offset, self._yielded = offset, 0
        mine = order[offset + self.rank:self.total_size:self.num_replicas]
        assert len(mine) == self.num_samples - offset // self.num_replicas
        step = 1 << 16
        for a in range(0, len(mine), step):
            for i in mine[a:a + step].tolist():
                self._yielded += 1
                yield i

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(images={self.n}"
            f"{'/' + str(self.dataset_size) if self._member is not None else ''}, shards={len(self.shard_sizes)}, window_images={self.window_images}, "
            f"shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch}, rank={self.rank}/{self.num_replicas}, "
            f"drop_last={self.drop_last})"
        )


def _global_indices(dataset: Any) -> np.ndarray:
    """Each index of ``dataset`` as an index into the whole dataset (differs for a subset of shards)."""
    shards = getattr(dataset, "shards", None)
    if getattr(dataset, "is_subset", False) and shards:
        return np.concatenate([np.arange(s.first, s.first + s.count, dtype=np.int64) for s in shards])
    return np.arange(len(dataset), dtype=np.int64)


def holdout_split(dataset: Any, per_class: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(train, heldout)``: dataset indices, held-out = the last ``per_class`` instances of every class.

    Images are class-major (global index = class * instances + instance), so the split is a pure
    function of the layout: every node and every rank computes the same one, and no image of the
    held-out part is ever trained on. ``dataset`` needs ``instances`` and ``len`` (a
    :class:`VisualAtomDataset`; with a subset of shards, the split covers the images present).
    """
    instances = getattr(dataset, "instances", None)
    if isinstance(instances, bool) or not isinstance(instances, (int, np.integer)) or instances < 1:
        raise TypeError(f"{type(dataset).__name__} has no instances count: holdout_split needs a VisualAtomDataset")
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or not 0 <= per_class < instances:
        raise ValueError(
            f"per_class must be an integer in [0, {instances - 1}] (the dataset has {instances} instances per class), "
            f"got {per_class!r}"
        )
    held = _global_indices(dataset) % instances >= instances - per_class
    return np.flatnonzero(~held), np.flatnonzero(held)
