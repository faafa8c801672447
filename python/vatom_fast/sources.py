"""Where a dataset's images come from: a stored dataset's shard files, or the native renderer.

Both readers show a dataset as ``ranges``, the ``(first, count)`` in the whole dataset of each
selected shard, and give image ``j`` of range ``k`` with ``image(k, j)``. Both survive pickling and
``fork``: open files and native handles are made again, in each process, on first use.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import native, render
from .errors import DatasetError
from .manifest import DatasetInfo
from .npy import IMAGE_DTYPE, LABEL_DTYPE
from .safe_files import CheckedFile

Ranges = List[Tuple[int, int]]


class ShardReader:
    """Images read with pread from the checked shard files of a stored dataset; at most
    ``max_open_shards`` image files open at once per process (least recently used closed first)."""

    def __init__(self, info: DatasetInfo, max_open_shards: int) -> None:
        self.info = info
        self.max_open_shards = max_open_shards
        self.ranges: Ranges = [(s.first, s.count) for s in info.shards]
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._files: "OrderedDict[int, CheckedFile]" = OrderedDict()
        self._label_cache: Dict[int, np.ndarray] = {}

    def _own(self) -> None:
        if self._pid != os.getpid():  # forked after files were opened: reopen (and re-check) in this process
            self._reset()

    def _images_file(self, k: int) -> CheckedFile:
        self._own()
        with self._lock:
            f = self._files.get(k)
            if f is not None:
                self._files.move_to_end(k)
                return f
            s = self.info.shards[k]
            f = CheckedFile(s.images_path, s.images_identity)
            self._files[k] = f
            while len(self._files) > self.max_open_shards:
                self._files.popitem(last=False)[1].close()
            return f

    def image(self, k: int, j: int) -> np.ndarray:
        S = self.info.image_size
        img = np.empty((S, S), dtype=IMAGE_DTYPE)
        self._images_file(k).read_into(img, self.info.shards[k].images_offset + j * S * S)
        return img

    def labels(self, k: int) -> np.ndarray:
        self._own()
        lab = self._label_cache.get(k)
        if lab is None:
            s = self.info.shards[k]
            f = CheckedFile(s.labels_path, s.labels_identity)
            try:
                lab = np.empty(s.count, dtype=LABEL_DTYPE)
                f.read_into(lab, s.labels_offset)
            finally:
                f.close()
            self._label_cache[k] = lab
        return lab

    @property
    def open_files(self) -> int:
        return len(self._files)

    def close(self) -> None:
        if self._pid == os.getpid():
            for f in self._files.values():
                f.close()
        self._reset()

    def __getstate__(self) -> Dict[str, Any]:
        return {"info": self.info, "max_open_shards": self.max_open_shards, "ranges": self.ranges}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()


class RenderReader:
    """Images rendered on access from a checked spec; ``threads`` native threads per ``image`` call."""

    def __init__(self, spec: "render.RenderSpec", ranges: Ranges, threads: int = 1) -> None:
        self.spec = spec
        self.ranges = ranges
        self.threads = threads
        self.renderers = render.RendererCache(spec)

    @classmethod
    def of_manifest(cls, info: DatasetInfo, ranges: Ranges, threads: int = 1) -> "RenderReader":
        """The reader of a checked manifest, once its class parameters are found to be those its
        config, rng and seed draw (a manifest that says otherwise is refused)."""
        native.library()  # first: a missing library is the error to report
        try:
            spec = render.RenderSpec.from_manifest(info.manifest)
            drawn = spec.drawn_class_params()
        except (render.SpecError, native.NativeSpecError) as e:
            raise DatasetError(info.root, [f"cannot render from this manifest: {e}"]) from None
        problem = render.params_problem(spec.class_params, drawn, spec.start_class)
        if problem:
            raise DatasetError(info.root, [problem])
        return cls(spec, ranges, threads)

    def image(self, k: int, j: int) -> np.ndarray:
        return self.renderers.get(self.threads).render_indices([self.ranges[k][0] + j])[0]

    def labels(self, k: int) -> np.ndarray:
        first, count = self.ranges[k]
        return self.spec.start_class + np.arange(first, first + count, dtype=np.int64) // self.spec.instances

    def render(self, global_indices: np.ndarray, threads: int, out: Optional[np.ndarray] = None,
               address: Optional[int] = None, nbytes: int = 0) -> Optional[np.ndarray]:
        """Images ``global_indices`` (int64, C-contiguous) into ``out`` or the memory at ``address``."""
        renderer = self.renderers.get(threads)
        if address is not None:
            renderer.render_into(global_indices, address, nbytes)
            return None
        return renderer.render_indices(global_indices, out=out)

    def close(self) -> None:
        self.renderers.close()
