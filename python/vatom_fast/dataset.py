"""Map-style PyTorch dataset over a vatom-fast format-1 directory of .npy shards."""

from __future__ import annotations

import bisect
import operator
import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .manifest import (
    IMAGE_DTYPE, LABEL_DTYPE, DatasetError, DatasetInfo, FileIdentity, Shard, ShardSelection, load_manifest, open_checked,
)

try:  # torch is optional: without it the dataset is a plain object with __len__/__getitem__.
    import torch
    from torch.utils.data import Dataset as _Base
except (ImportError, OSError):  # pragma: no cover - exercised only without torch
    torch = None  # type: ignore[assignment]

    class _Base:  # type: ignore[no-redef]
        pass

try:
    from PIL import Image as _PILImage
except ImportError:  # pragma: no cover
    _PILImage = None  # type: ignore[assignment]

OUTPUTS = ("pil", "numpy", "tensor")


class _CheckedFile:
    """A shard file opened after checking it is the one validated, read with pread: a file truncated
    or rewritten later gives a DatasetError naming it (a memory map would die of SIGBUS instead).
    Each read re-checks size and modification time with fstat (about a microsecond)."""

    def __init__(self, path: str, identity: FileIdentity) -> None:
        self.fd = -1
        self.path = path
        self.identity = identity
        self.fd = open_checked(path, identity)
        self.pid = os.getpid()

    def read_into(self, out: np.ndarray, offset: int) -> None:
        """Fills the C-contiguous array ``out`` from byte ``offset`` of the file."""
        st = os.fstat(self.fd)
        if st.st_size != self.identity.size or st.st_mtime_ns != self.identity.mtime_ns:
            root, name = os.path.split(self.path)
            raise DatasetError(root, [f"shard file {name} was changed since the dataset was opened (now {st.st_size} bytes)"])
        view = memoryview(out).cast("B")
        got = os.preadv(self.fd, [view], offset)
        while got < len(view):  # short reads: rare (signals, network file systems)
            n = os.preadv(self.fd, [view[got:]], offset + got)
            if n == 0:
                root, name = os.path.split(self.path)
                raise DatasetError(root, [f"shard file {name} ended early at byte {offset + got} (truncated?)"])
            got += n

    def close(self) -> None:
        if self.fd >= 0 and self.pid == os.getpid():
            os.close(self.fd)
        self.fd = -1

    def __del__(self) -> None:
        try:
            self.close()
        except OSError:
            pass


class VisualAtomDataset(_Base):
    """A vatom-fast dataset directory as a map-style dataset of ``(image, label)``.

    Args:
        root: the dataset directory (holding ``manifest.json`` and the ``.npy`` shards).
        transform: applied to the image (e.g. a torchvision/timm transform).
        target_transform: applied to the label.
        channels: 3 (default) expands the one stored channel to R = G = B; 1 keeps it.
        output: ``"pil"`` (a ``PIL.Image``, mode "RGB", or "L" with ``channels=1``),
            ``"numpy"`` (uint8 ``(S, S, 3)``, or ``(S, S)`` with ``channels=1``) or
            ``"tensor"`` (torch uint8 ``(3, S, S)``, or ``(1, S, S)``). Default: "pil" when
            Pillow is installed, else "numpy".
        relative_labels: return ``class - startClass`` (0-based) instead of the absolute class.
        verify_checksums: also hash every shard against the manifest's sha256 and check every
            label (reads the whole dataset once).
        max_open_shards: at most this many image shard files open at once per process (least
            recently used ones are closed).
        shards: which shards to use. ``None``/``"all"`` (default): every shard, a missing file
            is an error. ``"present"``: only the shards whose files exist in ``root`` (a node
            that holds part of the dataset on its local disk). A list of shard indices (positions
            in the manifest's shard list): only those. The dataset then indexes the images of the
            selected shards only, in manifest order: ``len``, ``labels()`` and ``ds[i]`` cover
            the subset; ``num_classes``/``classes`` stay the whole dataset's, labels are not
            renumbered, and :meth:`global_index` gives an image's index in the whole dataset.

    The manifest and every shard's header and size are checked in the constructor, before
    anything is read (a ``ValueError`` names each problem). Shard files are opened lazily, on first
    access in each process, and only if they are still the files checked then (device, inode, size,
    modification time); images are read with ``pread``, so a shard truncated or replaced later
    raises a ``DatasetError`` naming it instead of killing the process (SIGBUS) or serving other
    data. The dataset is safe to hand to DataLoader workers under fork and spawn; pickling drops
    the open files.
    """

    def __init__(
        self,
        root: "str | os.PathLike[str]",
        transform: Optional[Callable[[Any], Any]] = None,
        target_transform: Optional[Callable[[int], Any]] = None,
        channels: int = 3,
        output: Optional[str] = None,
        relative_labels: bool = False,
        verify_checksums: bool = False,
        max_open_shards: int = 128,
        shards: ShardSelection = None,
    ) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        if output is None:
            output = "pil" if _PILImage is not None else "numpy"
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if output == "pil" and _PILImage is None:
            raise ImportError('output="pil" needs Pillow (pip install pillow)')
        if output == "tensor" and torch is None:
            raise ImportError('output="tensor" needs PyTorch (pip install torch)')
        if not (isinstance(max_open_shards, int) and max_open_shards >= 1):
            raise ValueError(f"max_open_shards must be an integer >= 1, got {max_open_shards!r}")

        self.info: DatasetInfo = load_manifest(os.fspath(root), verify_checksums=verify_checksums, shards=shards)
        self.root: str = self.info.root
        self.transform = transform
        self.target_transform = target_transform
        self.channels = channels
        self.output = output
        self.relative_labels = bool(relative_labels)
        self.max_open_shards = max_open_shards
        # Start of each selected shard in this dataset's own (possibly subset) index.
        self._firsts: List[int] = []
        n = 0
        for s in self.info.shards:
            self._firsts.append(n)
            n += s.count
        self._len = n
        self._reset_cache()

    # ------------------------------------------------------------------ metadata

    @property
    def manifest(self) -> Dict[str, Any]:
        return self.info.manifest

    @property
    def shards(self) -> Tuple[Shard, ...]:
        """The selected shards in order (all of them unless ``shards=`` chose a subset); each holds
        the whole dataset's images ``[first, first + count)`` and ``index`` is its position in the
        manifest."""
        return self.info.shards

    @property
    def shard_indices(self) -> Tuple[int, ...]:
        """Manifest positions of the selected shards."""
        return tuple(s.index for s in self.info.shards)

    @property
    def shard_sizes(self) -> Tuple[int, ...]:
        """Image count of each selected shard: ``ds[i]`` for consecutive ``i`` walks them in order."""
        return tuple(s.count for s in self.info.shards)

    @property
    def is_subset(self) -> bool:
        """True when only some of the manifest's shards are used."""
        return self.info.is_subset

    @property
    def image_size(self) -> int:
        return self.info.image_size

    @property
    def instances(self) -> int:
        return self.info.instances

    @property
    def start_class(self) -> int:
        return self.info.start_class

    @property
    def num_classes(self) -> int:
        """Number of classes in this dataset (labels are absolute unless ``relative_labels``:
        a model trained on absolute labels needs ``start_class + num_classes`` outputs)."""
        return self.info.classes

    @property
    def classes(self) -> List[int]:
        """The label value of each class, in order."""
        c0 = 0 if self.relative_labels else self.info.start_class
        return list(range(c0, c0 + self.info.classes))

    def class_of(self, index: int) -> int:
        """The label of image ``index`` from the class-major layout (reads nothing)."""
        c = self.global_index(index) // self.info.instances
        return c if self.relative_labels else self.info.start_class + c

    def labels(self) -> np.ndarray:
        """Every image's label as an int64 array of length ``len(self)``, read from the label shards."""
        out = np.concatenate([self._shard_labels(k) for k in range(len(self.info.shards))]).astype(np.int64)
        if self.relative_labels:
            out -= self.info.start_class
        return out

    @property
    def targets(self) -> np.ndarray:
        """Same as :meth:`labels` (torchvision-style name)."""
        return self.labels()

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={self.root!r}, images={len(self)}, classes={self.num_classes}, "
            f"start_class={self.start_class}, image_size={self.image_size}, shards={len(self.shards)}"
            f"{'/' + str(self.info.manifest_shards) if self.is_subset else ''}, "
            f"channels={self.channels}, output={self.output!r})"
        )

    # ------------------------------------------------------------------ lazy opens

    def _reset_cache(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._files: "OrderedDict[int, _CheckedFile]" = OrderedDict()
        self._label_cache: Dict[int, np.ndarray] = {}

    def _check_pid(self) -> None:
        if self._pid != os.getpid():  # forked after files were opened: reopen (and re-check) in this process
            self._reset_cache()

    def _shard_file(self, k: int) -> "_CheckedFile":
        """Shard k's images file, opened in this process and checked to be the file validated in the
        constructor (device, inode, size, modification time)."""
        self._check_pid()
        with self._lock:
            f = self._files.get(k)
            if f is not None:
                self._files.move_to_end(k)
                return f
            s = self.info.shards[k]
            f = _CheckedFile(s.images_path, s.images_identity)
            self._files[k] = f
            while len(self._files) > self.max_open_shards:
                self._files.popitem(last=False)[1].close()
            return f

    def _shard_labels(self, k: int) -> np.ndarray:
        self._check_pid()
        lab = self._label_cache.get(k)
        if lab is None:
            s = self.info.shards[k]
            f = _CheckedFile(s.labels_path, s.labels_identity)
            try:
                lab = np.empty(s.count, dtype=LABEL_DTYPE)
                f.read_into(lab, s.labels_offset)
            finally:
                f.close()
            self._label_cache[k] = lab
        return lab

    def close(self) -> None:
        """Close every shard file this process opened (they are reopened, and re-checked, on the next access)."""
        if self._pid == os.getpid():
            for f in self._files.values():
                f.close()
        self._reset_cache()

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_files", "_label_cache", "_lock", "_pid"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_cache()

    # ------------------------------------------------------------------ items

    def _check_index(self, index: Any) -> int:
        if isinstance(index, (bool, np.bool_)):
            raise TypeError(f"dataset indices must be integers, not {type(index).__name__}")
        i = operator.index(index)
        n = self._len
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} images")
        return i

    def locate(self, index: int) -> Tuple[int, int]:
        """``(k, position in that shard)`` of image ``index``, where ``self.shards[k]`` holds it
        (``k`` is the manifest's shard number unless a subset of shards was chosen)."""
        i = self._check_index(index)
        k = bisect.bisect_right(self._firsts, i) - 1
        return k, i - self._firsts[k]

    def global_index(self, index: int) -> int:
        """Image ``index`` of this dataset as an index into the whole dataset (the same number
        unless a subset of shards was chosen)."""
        k, j = self.locate(index)
        return self.info.shards[k].first + j

    def read(self, index: int) -> Tuple[np.ndarray, int]:
        """The stored ``(S, S)`` uint8 image (a copy) and its label, without conversion or transforms."""
        k, j = self.locate(index)
        S = self.info.image_size
        img = np.empty((S, S), dtype=IMAGE_DTYPE)
        self._shard_file(k).read_into(img, self.info.shards[k].images_offset + j * S * S)
        label = int(self._shard_labels(k)[j])
        if self.relative_labels:
            label -= self.info.start_class
        return img, label

    def _convert(self, img: np.ndarray) -> Any:
        if self.output == "pil":
            im = _PILImage.fromarray(img)  # 2-D uint8 -> mode "L"
            return im.convert("RGB") if self.channels == 3 else im
        if self.output == "numpy":
            return np.repeat(img[:, :, None], 3, axis=2) if self.channels == 3 else img
        t = torch.from_numpy(img).unsqueeze(0)
        return t.expand(3, -1, -1).contiguous() if self.channels == 3 else t

    def __getitem__(self, index: int) -> Tuple[Any, Any]:
        img, label = self.read(index)
        image = self._convert(img)
        if self.transform is not None:
            image = self.transform(image)
        target: Any = label
        if self.target_transform is not None:
            target = self.target_transform(label)
        return image, target
