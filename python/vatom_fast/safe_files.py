"""Opening files inside a dataset directory: never through a symlink, never blocking on a FIFO, only
regular files, and only the very file that was checked (a file replaced or changed since is refused)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from .errors import DatasetError

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class FileIdentity:
    """What a shard file was when it was checked: a file opened later must match it exactly."""

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @staticmethod
    def of(st: os.stat_result) -> "FileIdentity":
        return FileIdentity(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def open_regular(path: str) -> Tuple[int, os.stat_result]:
    """An fd on ``path`` and its fstat: never through a symlink, never blocking on a FIFO, and only
    a regular file. Raises ``FileNotFoundError`` if it is missing, ``ValueError`` saying what it is
    otherwise."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ValueError("is a symbolic link (refused: shard files must be regular files in the directory)") from None
        raise ValueError(f"cannot be opened ({e.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ValueError("is not a regular file (a FIFO, device or directory is refused)")
    return fd, st


def open_checked(path: str, identity: FileIdentity) -> int:
    """An fd on the file ``identity`` describes; raises ``DatasetError`` if ``path`` is now another
    file or was changed (size or modification time) since it was checked."""
    root, name = os.path.split(path)
    try:
        fd, st = open_regular(path)
    except (OSError, ValueError) as e:
        raise DatasetError(root, [f"shard file {name} {e if isinstance(e, ValueError) else 'is missing'} (it was checked when the dataset was opened)"]) from None
    if FileIdentity.of(st) != identity:
        os.close(fd)
        raise DatasetError(root, [f"shard file {name} was replaced or changed since the dataset was opened"])
    return fd


def read_all(fd: int, size: int) -> bytes:
    """The first ``size`` bytes of ``fd`` (fewer if it is shorter), read with pread."""
    chunks = []
    offset = 0
    while offset < size:
        b = os.pread(fd, min(1 << 24, size - offset), offset)
        if not b:
            break
        chunks.append(b)
        offset += len(b)
    return b"".join(chunks)


def sha256_fd(fd: int) -> str:
    h = hashlib.sha256()
    offset = 0
    while True:
        b = os.pread(fd, 1 << 22, offset)
        if not b:
            break
        h.update(b)
        offset += len(b)
    return h.hexdigest()


class CheckedFile:
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
