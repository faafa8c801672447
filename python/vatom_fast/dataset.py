"""Map-style PyTorch dataset over a vatom-fast format-1 directory, its images read from the shards or
rendered on access from the manifest (or a preset) by the native library."""

from __future__ import annotations

import bisect
import operator
import os
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from . import native, presets, render, rules
from .errors import DatasetError
from .manifest import Shard, ShardSelection, load_manifest
from .sources import Ranges, RenderReader, ShardReader

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
SOURCES = ("auto", "shards", "render")
# The constructor's options that preset() passes on.
_LOADER_OPTIONS = ("transform", "target_transform", "channels", "output", "relative_labels", "threads")


def _check_threads(threads: Any) -> None:
    if not (type(threads) is int and 1 <= threads <= rules.MAX_THREADS):
        raise ValueError(f"threads must be an integer from 1 to {rules.MAX_THREADS}, got {threads!r}")


class VisualAtomDataset(_Base):
    """A vatom-fast dataset directory as a map-style dataset of ``(image, label)``.

    Args:
        root: the dataset directory (holding ``manifest.json`` and the ``.npy`` shards), or a
            :class:`vatom_fast.RenderSpec` to render (see :meth:`preset`).
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
        source: where images come from. ``"auto"`` (default): rendered on access when the manifest
            says ``"storage": "manifest"`` (a manifest-only dataset, no shards), else read from the
            shards. ``"shards"``: read from the shards, never render. ``"render"``: render every
            image from the manifest even when shards exist (the same bytes; compare them).
            Rendering needs the native library (``pip install`` compiles it; see README).
        threads: native threads one rendered ``ds[i]`` uses in this process (default 1: DataLoader
            workers already run in parallel).

    Rendering checks once, in the constructor, that the manifest's class parameters are those its
    config, rng and seed draw. Each process (DataLoader workers under fork or spawn) makes its own
    native renderer on first access. The default stream renders any image independently; the
    reference stream (``rng: reference``) is sequential, so an image out of order replays the
    generator from the last class start it passed (see python/README.md for the cost).

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
        root: "Union[str, os.PathLike[str], render.RenderSpec]",
        transform: Optional[Callable[[Any], Any]] = None,
        target_transform: Optional[Callable[[int], Any]] = None,
        channels: int = 3,
        output: Optional[str] = None,
        relative_labels: bool = False,
        verify_checksums: bool = False,
        max_open_shards: int = 128,
        shards: ShardSelection = None,
        source: str = "auto",
        threads: int = 1,
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
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        _check_threads(threads)
        self.source = source
        self.threads = threads
        self.transform = transform
        self.target_transform = target_transform
        self.channels = channels
        self.output = output
        self.relative_labels = bool(relative_labels)
        self.max_open_shards = max_open_shards
        if isinstance(root, render.RenderSpec):
            if source == "shards" or shards is not None or verify_checksums:
                raise ValueError("a dataset rendered from a spec has no shards: source, shards and verify_checksums do not apply")
            self.info = root.dataset_info()
            self._reader: Union[ShardReader, RenderReader] = RenderReader(root, [(0, root.image_count)], threads)
        else:
            self.info = load_manifest(os.fspath(root), verify_checksums=verify_checksums, shards=shards)
            self._reader = self._open_reader(source)
        self.root: str = self.info.root
        self._batch_reader: Optional[RenderReader] = self._reader if isinstance(self._reader, RenderReader) else None
        self._index(self._reader.ranges)

    def _open_reader(self, source: str) -> "Union[ShardReader, RenderReader]":
        info = self.info
        if info.manifest.get("storage") != "manifest":
            if source == "render":
                return RenderReader.of_manifest(info, [(s.first, s.count) for s in info.shards], self.threads)
            return ShardReader(info, self.max_open_shards)
        if source == "shards":
            raise DatasetError(info.root, ['source="shards", but this dataset is manifest-only ("storage": "manifest"): '
                                           'it has no shards; use source="render" or "auto"'])
        # The shard layout a stored build of this manifest has, so that samplers that walk shards
        # (ShardWindowSampler) see the same structure.
        n, size = info.image_count, info.manifest["shardSize"]
        return RenderReader.of_manifest(info, [(f, min(size, n - f)) for f in range(0, n, size)], self.threads)

    @classmethod
    def preset(cls, name: str, seed: Optional[int] = None, **options: Any) -> "VisualAtomDataset":
        """A preset of the paper rendered on the fly, with no files: ``preset("visualatom-1k", seed=0)``
        has the images of ``vatom-fast build --preset visualatom-1k --seed 0`` (seed 0 by default),
        the class parameters drawn by the native library.

        ``options`` are the generator options of ``vatom-fast build`` in Python spelling
        (``image_size``, ``rng``, ``reference_threads``, ``vertices=(min, max)``, ``orbits``,
        ``noise_min``, ``line_width``, ``radius_min``, ``oval_rate``, ``start_pos``, ``freq1``,
        ``freq2``, ``classes``, ``instances``, ``start_class``), checked as the CLI checks them and
        with the same pixel defaults for another image size; and the constructor's (``transform``,
        ``target_transform``, ``channels``, ``output``, ``relative_labels``, ``threads``). The
        manifest (``ds.manifest``) records the preset and the options."""
        unknown = sorted(set(options) - set(presets.GENERATOR_OPTIONS) - set(_LOADER_OPTIONS))
        if unknown:
            raise TypeError(f"unknown option {', '.join(map(repr, unknown))}; preset() takes the generator options "
                            f"{', '.join(presets.GENERATOR_OPTIONS)} and the dataset options {', '.join(_LOADER_OPTIONS)}")
        generator = {k: v for k, v in options.items() if k not in _LOADER_OPTIONS}
        spec = render.RenderSpec(**presets.preset_spec(name, seed, **generator))
        spec.class_params = spec.drawn_class_params()
        return cls(spec, source="render", **{k: v for k, v in options.items() if k in _LOADER_OPTIONS})

    def _index(self, ranges: Ranges) -> None:
        # (first, count) in the whole dataset of each selected shard (one range when there are no
        # shards), and where each starts in this dataset's own (possibly subset) index.
        self._ranges = ranges
        self._firsts: List[int] = []
        n = 0
        for _, count in ranges:
            self._firsts.append(n)
            n += count
        self._len = n

    @property
    def rendering(self) -> bool:
        """Whether ``ds[i]`` renders its image (else it reads the shards)."""
        return isinstance(self._reader, RenderReader)

    @property
    def render_spec(self) -> "render.RenderSpec":
        """What decides every image's bytes, as the native renderer takes it (its class parameters
        checked against what the config, rng and seed draw)."""
        return self._renderer().spec

    def _renderer(self) -> RenderReader:
        if self._batch_reader is None:
            self._batch_reader = RenderReader.of_manifest(self.info, self._ranges, self.threads)
        return self._batch_reader

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
        """Image count of each selected shard: ``ds[i]`` for consecutive ``i`` walks them in order.
        A manifest-only dataset has the layout of its ``shardSize`` (a preset: one range)."""
        return tuple(count for _, count in self._ranges)

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
        c0 = self._label_base
        return list(range(c0, c0 + self.info.classes))

    @property
    def _label_base(self) -> int:
        return 0 if self.relative_labels else self.info.start_class

    def class_of(self, index: int) -> int:
        """The label of image ``index`` from the class-major layout (reads nothing)."""
        return self._label_base + self.global_index(index) // self.info.instances

    def class_params(self, label: int) -> Dict[str, Any]:
        """The drawn parameters of the class labelled ``label`` (as this dataset labels it), by the
        manifest's names: ``vertices``, ``orbits``, ``radius``, ``freq1``, ``freq2``, ``noise``,
        ``lineWidth``, ``ovalX``, ``ovalY``, and ``class`` (the absolute class)."""
        if isinstance(label, (bool, np.bool_)):
            raise TypeError(f"a class label must be an integer, not {type(label).__name__}")
        c = operator.index(label) - self._label_base
        if not 0 <= c < self.info.classes:
            raise IndexError(f"class {label} is not in this dataset (its classes are {self.classes[0]}..{self.classes[-1]})")
        if self.rendering:
            spec = self._reader.spec
            if spec.class_params is None:  # a preset's spec: drawn once, on first use
                spec.class_params = spec.drawn_class_params()
            return render.class_params_by_name(spec.class_params[c], self.info.start_class + c, spec.family)
        return dict(self.info.manifest["classParams"][c])

    def labels(self) -> np.ndarray:
        """Every image's label as an int64 array of length ``len(self)``: its class, from its index
        (images are class-major; the label shards say the same, which ``verify_checksums`` checks)."""
        glob = np.concatenate([np.arange(f, f + n, dtype=np.int64) for f, n in self._ranges])
        return self._label_base + glob // self.info.instances

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
            f"channels={self.channels}, output={self.output!r}, source={'render' if self.rendering else 'shards'!r})"
        )

    def close(self) -> None:
        """Close every shard file this process opened and free its native renderers (both come back,
        the files re-checked, on the next access)."""
        self._reader.close()
        if self._batch_reader is not None:
            self._batch_reader.close()

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
        return self._ranges[k][0] + j

    def read(self, index: int) -> Tuple[np.ndarray, int]:
        """The stored (or rendered) ``(S, S)`` uint8 image (a copy) and its label, without conversion
        or transforms."""
        k, j = self.locate(index)
        return self._reader.image(k, j), self._label_base + (self._ranges[k][0] + j) // self.info.instances

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

    # ------------------------------------------------------------------ batches

    def render_batch(
        self,
        indices: Any,
        out: Any = None,
        threads: int = 2,
        output: str = "numpy",
        pin_memory: bool = False,
    ) -> Tuple[Any, Any]:
        """Render a whole batch in this process: images ``indices`` (this dataset's indices, any order)
        on ``threads`` native threads with the GIL released, into one uint8 array.

        Returns ``(images, labels)``: with ``output="numpy"`` a ``(B, S, S)`` uint8 array and an int64
        array; with ``output="tensor"`` a ``(B, 1, S, S)`` uint8 tensor (pinned with ``pin_memory``,
        for a non-blocking copy to the GPU) and an int64 tensor. ``out`` (an array or a tensor of that
        shape and dtype, C-contiguous, e.g. a pinned tensor reused every step) is filled instead of
        allocating. Transforms are not applied (do them on the GPU batch). Works on stored datasets
        too (it renders; the bytes equal the shards').
        """
        if output not in ("numpy", "tensor"):
            raise ValueError(f'output must be "numpy" or "tensor", got {output!r}')
        _check_threads(threads)
        reader = self._renderer()
        n = self._len
        if np.ndim(indices) != 1:
            raise TypeError("indices must be a 1-D sequence of integers")
        try:
            local = native.int64_indices(indices, lambda v: f"index {v} is out of range for a dataset of {n} images")
        except TypeError:
            raise TypeError("indices must be a 1-D sequence of integers") from None
        bad = np.nonzero((local < -n) | (local >= n))[0]
        if bad.size:
            raise IndexError(f"index {int(local[bad[0]])} is out of range for a dataset of {n} images")
        local = np.where(local < 0, local + self._len, local)
        firsts = np.asarray(self._firsts, dtype=np.int64)
        k = np.searchsorted(firsts, local, side="right") - 1
        starts = np.asarray([f for f, _ in self._ranges], dtype=np.int64)
        glob = np.ascontiguousarray(starts[k] + local - firsts[k])
        labels = self._label_base + glob // self.info.instances
        S = self.info.image_size
        B = glob.size
        if output == "numpy":
            if out is None:
                out = np.empty((B, S, S), dtype=np.uint8)
            elif not (isinstance(out, np.ndarray) and out.shape == (B, S, S) and out.dtype == np.uint8):
                raise ValueError(f"out must be a uint8 numpy array of shape {(B, S, S)}")
            reader.render(glob, threads, out=out)
            return out, labels
        if torch is None:
            raise ImportError('output="tensor" needs PyTorch (pip install torch)')
        if out is None:
            out = torch.empty((B, 1, S, S), dtype=torch.uint8, pin_memory=pin_memory)
        elif not (isinstance(out, torch.Tensor) and tuple(out.shape) == (B, 1, S, S) and out.dtype == torch.uint8
                  and out.device.type == "cpu" and out.is_contiguous()):
            raise ValueError(f"out must be a contiguous uint8 CPU tensor of shape {(B, 1, S, S)}")
        reader.render(glob, threads, address=out.data_ptr(), nbytes=out.numel())
        return out, torch.from_numpy(labels)
