"""The header of a .npy file (format versions 1 to 3), parsed from its first bytes without mapping
or reading the data, so that a hostile header is refused before any allocation it implies."""

from __future__ import annotations

import ast
import os
import struct
from dataclasses import dataclass
from typing import Callable, Tuple

import numpy as np

IMAGE_DTYPE = np.dtype(np.uint8)
LABEL_DTYPE = np.dtype("<i4")

_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 1 << 20


@dataclass(frozen=True)
class NpyHeader:
    """What a .npy file's header says, and where its data starts."""

    version: Tuple[int, int]
    descr: str
    fortran_order: bool
    shape: Tuple[int, ...]
    data_offset: int

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.descr)

    @property
    def data_bytes(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n * self.dtype.itemsize

    @property
    def expected_file_size(self) -> int:
        return self.data_offset + self.data_bytes

    def dtype_is(self, dtype: np.dtype) -> bool:
        """Whether the header's dtype is ``dtype`` (a one-byte type in any byte-order spelling)."""
        return self.descr in (dtype.str, dtype.str.replace("|", "<"), dtype.str.replace("|", ">"))


def parse_npy_header(read_at: Callable[[int, int], bytes]) -> NpyHeader:
    """The header read through ``read_at(offset, length)``; raises ``ValueError`` saying what is wrong."""
    pre = read_at(0, 12)
    if len(pre) < 10 or pre[:6] != _MAGIC:
        raise ValueError("not a .npy file (bad magic)")
    major, minor = pre[6], pre[7]
    if major == 1:
        (hlen,) = struct.unpack("<H", pre[8:10])
        start = 10
    elif major in (2, 3):
        if len(pre) < 12:
            raise ValueError("truncated .npy header")
        (hlen,) = struct.unpack("<I", pre[8:12])
        start = 12
    else:
        raise ValueError(f"unsupported .npy format version {major}.{minor}")
    if hlen > _MAX_HEADER:
        raise ValueError(f".npy header length {hlen} is implausibly large")
    raw = read_at(start, hlen)
    if len(raw) != hlen:
        raise ValueError("truncated .npy header")
    try:
        text = raw.decode("utf8" if major == 3 else "latin1")
        d = ast.literal_eval(text)
    except (UnicodeDecodeError, ValueError, SyntaxError, MemoryError, RecursionError) as e:
        raise ValueError(f"unreadable .npy header dict ({e.__class__.__name__})") from None
    if not isinstance(d, dict) or set(d.keys()) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f".npy header is not a dict with keys descr, fortran_order, shape: {text.strip()!r}")
    descr, fortran, shape = d["descr"], d["fortran_order"], d["shape"]
    if not isinstance(descr, str):
        raise ValueError(f".npy header descr {descr!r} is not a simple dtype")
    try:
        np.dtype(descr)
    except TypeError:
        raise ValueError(f".npy header descr {descr!r} is not a dtype") from None
    if not isinstance(fortran, bool):
        raise ValueError(f".npy header fortran_order {fortran!r} is not a bool")
    if not isinstance(shape, tuple) or not all(type(x) is int and x >= 0 for x in shape):
        raise ValueError(f".npy header shape {shape!r} is not a tuple of non-negative ints")
    return NpyHeader((major, minor), descr, fortran, shape, start + hlen)


def read_npy_header(path: str) -> NpyHeader:
    """Parse the header of a .npy file by reading its first bytes (no mapping, no data read).

    Raises ``ValueError`` describing what is wrong if it is not a well-formed .npy header.
    """
    with open(path, "rb") as f:
        fd = f.fileno()
        return parse_npy_header(lambda offset, n: os.pread(fd, n, offset))
