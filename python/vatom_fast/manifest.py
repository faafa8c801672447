"""Reading and validating a vatom-fast dataset directory (format 1) without mapping any shard.

Layout::

    DIR/manifest.json      {"format": "vatom-fast", "version": 1, "complete": true, "imageSize": S,
                            "classes": C, "instances": I, "startClass": c0, "imageCount": C * I,
                            "shards": [{"images": ..., "labels": ..., "first": f, "count": n,
                                        "imagesBytes": ..., "labelsBytes": ...,
                                        "imagesSha256": ..., "labelsSha256": ...}, ...], ...}
    DIR/images-NNNNN.npy   uint8 (n, S, S), C order, image 0 at byte 4096
    DIR/labels-NNNNN.npy   int32 (n,), absolute class index of each image

Images are class-major: global index = (class - startClass) * instances + instance.
"""

from __future__ import annotations

import ast
import errno
import hashlib
import json
import operator
import os
import stat
import struct
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from . import schema

FORMAT_NAME = "vatom-fast"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

IMAGE_DTYPE = np.dtype(np.uint8)
LABEL_DTYPE = np.dtype("<i4")

_NPY_MAGIC = b"\x93NUMPY"

# The same bounds as lib/format.ts.
MAX_JSON_BYTES = 512 << 20
MAX_SHARDS = 100_000
IMAGES_DATA_OFFSET = 4096
LABELS_DATA_OFFSET = 128


class DatasetError(ValueError):
    """The directory is not a complete, consistent vatom-fast format-1 dataset.

    ``problems`` lists every problem found (the message lists them too).
    """

    def __init__(self, root: str, problems: List[str]):
        self.root = root
        self.problems = list(problems)
        if len(self.problems) == 1:
            msg = f"invalid vatom-fast dataset at {root}: {self.problems[0]}"
        else:
            msg = f"invalid vatom-fast dataset at {root}:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(msg)


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


_MAX_NPY_HEADER = 1 << 20


def _parse_npy_header(read_at: Callable[[int, int], bytes]) -> NpyHeader:
    pre = read_at(0, 12)
    if len(pre) < 10 or pre[:6] != _NPY_MAGIC:
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
    if hlen > _MAX_NPY_HEADER:
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
        return _parse_npy_header(lambda offset, n: os.pread(fd, n, offset))


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


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


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


@dataclass(frozen=True)
class Shard:
    """One validated shard: global images [first, first + count)."""

    index: int
    first: int
    count: int
    images_name: str
    labels_name: str
    images_path: str  # inside the (resolved) dataset directory
    labels_path: str
    images_offset: int  # byte offset of image 0 in the images file
    labels_offset: int
    images_sha256: Optional[str] = None
    labels_sha256: Optional[str] = None
    images_identity: Optional[FileIdentity] = None
    labels_identity: Optional[FileIdentity] = None

    @property
    def stop(self) -> int:
        return self.first + self.count


@dataclass(frozen=True)
class DatasetInfo:
    root: str  # resolved dataset directory
    manifest: Dict[str, Any]
    image_size: int
    classes: int
    instances: int
    start_class: int
    image_count: int  # the manifest's imageCount (every shard), see selected_images
    shards: Tuple[Shard, ...]  # the selected shards, in manifest order
    manifest_shards: int = 0  # how many shards the manifest lists

    @property
    def selected_images(self) -> int:
        """Images in the selected shards (``image_count`` unless a subset of shards was chosen)."""
        return sum(s.count for s in self.shards)

    @property
    def is_subset(self) -> bool:
        return len(self.shards) < self.manifest_shards


def shard_names(index: int) -> Tuple[str, str]:
    """The images and labels file names of shard ``index``: the only names a shard may have."""
    return f"images-{index:05d}.npy", f"labels-{index:05d}.npy"


def _worker_shard_range(shards: int, index: int, count: int) -> Tuple[int, int]:
    return (index * shards) // count, ((index + 1) * shards) // count


def manifest_problem(m: Dict[str, Any]) -> Optional[str]:
    """What is wrong with a manifest that passed the schema, or None: the rules a schema cannot state
    (the same as lib/format.ts manifestProblem)."""
    c = m["config"]
    if m["imageSize"] != c["imageSize"]:
        return f"imageSize {m['imageSize']} differs from config.imageSize {c['imageSize']}"
    for lo, hi in (("verticesMin", "verticesMax"), ("orbitsMin", "orbitsMax"), ("freq1Min", "freq1Max"), ("freq2Min", "freq2Max")):
        if c[lo] > c[hi]:
            return f"config.{lo} {c[lo]} is greater than config.{hi} {c[hi]}"
    if m["imageCount"] != m["classes"] * m["instances"]:
        return f"counts do not add up: imageCount {m['imageCount']} != classes {m['classes']} * instances {m['instances']}"
    if m["startClass"] + m["classes"] > 2 ** 32:
        return f"startClass + classes {m['startClass'] + m['classes']} is more than 2^32"
    if m["requestedClasses"] < m["classes"]:
        return f"requestedClasses {m['requestedClasses']} is less than classes {m['classes']}"
    philox = m["rng"] == "philox"
    if m["stream"] != ("philox4x32-10/format-1" if philox else "cpython-mt19937/render_VisualAtom.py"):
        return f"stream {m['stream']} is not that of rng {m['rng']}"
    if philox != m["seed"].isdigit():
        return f"seed {m['seed']!r} is not that of rng {m['rng']}"
    if philox != ("referenceThreads" not in m):
        return f"referenceThreads is {'set' if philox else 'missing'} with rng {m['rng']}"
    if philox and int(m["seed"]) >= 2 ** 64:
        return f"seed {m['seed']} is not below 2^64"
    produced = m["requestedClasses"] if philox else m["requestedClasses"] // m["referenceThreads"] * m["referenceThreads"]
    if m["classes"] != produced:
        return f"classes {m['classes']} is not what requestedClasses {m['requestedClasses']} makes with rng {m['rng']} ({produced})"
    params = m["classParams"]
    if len(params) != m["classes"]:
        return f"classParams lists {len(params)} classes, classes is {m['classes']}"
    for i, p in enumerate(params):
        if p["class"] != m["startClass"] + i:
            return f"classParams[{i}].class is {p['class']}, expected {m['startClass'] + i}"
        if not c["verticesMin"] <= p["vertices"] <= c["verticesMax"]:
            return f"classParams[{i}].vertices {p['vertices']} is outside config {c['verticesMin']}:{c['verticesMax']}"
        if not c["orbitsMin"] <= p["orbits"] <= c["orbitsMax"]:
            return f"classParams[{i}].orbits {p['orbits']} is outside config {c['orbitsMin']}:{c['orbitsMax']}"
    size, count_all = m["shardSize"], m["imageCount"]
    layout = -(-count_all // size)
    if layout > MAX_SHARDS:
        return f"imageCount {count_all} in shards of {size} makes {layout} shards, more than {MAX_SHARDS}"
    if m.get("storage") == "manifest":
        if m["shards"] or "part" in m:
            return 'a manifest-only dataset (storage "manifest") lists no shards and no part'
        if m["complete"] is not True:
            return 'a manifest-only dataset (storage "manifest") is always complete'
        return None
    first_shard, end_shard = 0, layout
    part = m.get("part")
    if part is not None:
        if part["index"] >= part["count"]:
            return f"part.index {part['index']} is not below part.count {part['count']}"
        if part["layoutShards"] != layout:
            return f"part.layoutShards {part['layoutShards']}, the layout has {layout} shards"
        first_shard, end_shard = _worker_shard_range(layout, part["index"], part["count"])
        if (part["firstShard"], part["endShard"]) != (first_shard, end_shard):
            return f"part covers shards {part['firstShard']}..{part['endShard'] - 1}, worker {part['index']} of {part['count']} writes {first_shard}..{end_shard - 1}"
    shards = m["shards"]
    if len(shards) != end_shard - first_shard:
        return f"lists {len(shards)} shards, expected {end_shard - first_shard}"
    S = m["imageSize"]
    for k, sh in enumerate(shards):
        g = first_shard + k
        images, labels = shard_names(g)
        if sh["images"] != images or sh["labels"] != labels:
            return (f"shard {k} names {sh['images']!r} and {sh['labels']!r}; shard {g} is {images} and {labels} "
                    "(swapped or duplicated entries are refused)")
        first = g * size
        count = min(size, count_all - first)
        if sh["first"] != first or sh["count"] != count:
            return f"counts do not add up: shard {k} holds images {sh['first']} + {sh['count']}; shard {g} holds {first} + {count}"
        recorded = [sh[key] for key in ("imagesBytes", "labelsBytes", "imagesSha256", "labelsSha256")]
        written = sum(v is not None for v in recorded)
        if written not in (0, 4):
            return f"shard {k} records some sizes and checksums but not all"
        if written == 0 and m["complete"]:
            return f"complete is true but shard {k} is not recorded as written"
        if written == 4 and (sh["imagesBytes"], sh["labelsBytes"]) != (IMAGES_DATA_OFFSET + count * S * S, LABELS_DATA_OFFSET + 4 * count):
            return (f"shard {k} records {sh['imagesBytes']} and {sh['labelsBytes']} bytes; {count} images of {S}x{S} take "
                    f"{IMAGES_DATA_OFFSET + count * S * S} and {LABELS_DATA_OFFSET + 4 * count}")
    return None


def _sha256_fd(fd: int) -> str:
    h = hashlib.sha256()
    offset = 0
    while True:
        b = os.pread(fd, 1 << 22, offset)
        if not b:
            break
        h.update(b)
        offset += len(b)
    return h.hexdigest()


def read_manifest_file(path: str, definition: str = "manifest") -> Dict[str, Any]:
    """Read and check one JSON file of the format (bounded size, no symlink or FIFO, schema); raises
    ``DatasetError`` naming the file for anything malformed."""
    root, name = os.path.split(path)
    try:
        fd, st = open_regular(path)
    except FileNotFoundError:
        raise DatasetError(root, [f"missing file {name}"]) from None
    except ValueError as e:
        raise DatasetError(root, [f"{name} {e}"]) from None
    try:
        if st.st_size > MAX_JSON_BYTES:
            raise DatasetError(root, [f"{name} is {st.st_size} bytes, more than the {MAX_JSON_BYTES} a vatom-fast file may have"])
        chunks = []
        offset = 0
        while offset < st.st_size:
            b = os.pread(fd, min(1 << 24, st.st_size - offset), offset)
            if not b:
                break
            chunks.append(b)
            offset += len(b)
    finally:
        os.close(fd)
    try:
        m = json.loads(b"".join(chunks).decode("utf8"))
    except RecursionError:
        raise DatasetError(root, [f"{name} nests arrays or objects too deeply; not a vatom-fast file"]) from None
    except (ValueError, UnicodeDecodeError, MemoryError) as e:
        raise DatasetError(root, [f"{name} is not valid JSON: {str(e).splitlines()[0] if str(e) else type(e).__name__}"]) from None
    problem = schema.validate(m, definition)
    if problem:
        raise DatasetError(root, [f"{name}: {problem} (schema {os.path.basename(schema.SCHEMA_PATH)})"])
    return m


ShardSelection = Union[None, str, Iterable[int]]


def _check_selection_arg(shards: ShardSelection) -> Union[None, str, Tuple[int, ...]]:
    """Normalise the ``shards`` argument: None / "all", "present", or sorted unique shard indices."""
    if shards is None or (isinstance(shards, str) and shards == "all"):
        return None
    if isinstance(shards, str):
        if shards == "present":
            return "present"
        raise ValueError(f'shards must be "all", "present" or a list of shard indices, got {shards!r}')
    try:
        raw = list(shards)
    except TypeError:
        raise TypeError(f'shards must be "all", "present" or a list of shard indices, got {shards!r}') from None
    out = []
    for x in raw:
        if isinstance(x, bool):
            raise TypeError(f"shards: {x!r} is not a shard index")
        try:
            out.append(operator.index(x))
        except TypeError:
            raise TypeError(f"shards: {x!r} is not a shard index (an integer)") from None
    if not out:
        raise ValueError("shards is an empty list: select at least one shard")
    dup = sorted({x for x in out if out.count(x) > 1})
    if dup:
        raise ValueError(f"shards lists shard {dup[0]} more than once")
    if min(out) < 0:
        raise ValueError(f"shards: {min(out)} is not a shard index (they start at 0)")
    return tuple(sorted(out))


def load_manifest(root: str, verify_checksums: bool = False, shards: ShardSelection = None) -> DatasetInfo:
    """Read ``root/manifest.json`` and check it and every selected shard file's header and size.

    ``shards`` selects which shards to use: None or ``"all"`` (every shard; a missing file is an
    error), ``"present"`` (the shards whose two files exist in the directory; shards with neither
    file are skipped, a shard with only one of them is an error) or a list of shard indices
    (positions in the manifest's shard list; their files must exist). The whole manifest, every
    shard name included, is checked whatever the selection; the files of the selected shards are.

    Nothing is mapped and no image data is read (unless ``verify_checksums``, which hashes every
    selected file against the manifest's sha256 and checks every label). Raises
    :class:`DatasetError` (a ``ValueError``) that lists every problem found.
    """
    selection = _check_selection_arg(shards)
    root_arg = os.fspath(root)
    if not os.path.isdir(root_arg):
        raise DatasetError(root_arg, [f"{root_arg!r} is not a directory (missing dataset?)"])
    real_root = os.path.realpath(root_arg)
    try:
        m = read_manifest_file(os.path.join(real_root, MANIFEST_NAME))
    except DatasetError as e:
        raise DatasetError(root_arg, e.problems) from None

    def fail(*problems: str) -> None:
        raise DatasetError(root_arg, list(problems))

    if m["complete"] is not True:
        fail(
            f"manifest complete is {m['complete']!r}: the build is still running or was "
            "interrupted (rerun the same build command to finish it)"
        )
    if "part" in m:
        fail(f"{MANIFEST_NAME} is a worker's partial manifest (run vatom-fast merge)")
    problem = manifest_problem(m)
    if problem:
        fail(f"{MANIFEST_NAME}: {problem}")
    # storage "manifest": the manifest is the whole dataset (no shards, manifest_problem checked that;
    # images are rendered on access).

    S, C, I, c0, N = (m[k] for k in ("imageSize", "classes", "instances", "startClass", "imageCount"))
    shards_raw = m["shards"]
    entries = [(k, sh) for k, sh in enumerate(shards_raw)]
    problems: List[str] = []

    # Which shards to open.
    if isinstance(selection, tuple):
        too_big = [k for k in selection if k >= len(shards_raw)]
        if too_big:
            raise ValueError(
                f"shards lists shard {too_big[0]}, but the manifest at {root_arg} has "
                f"{len(shards_raw)} shards (0..{len(shards_raw) - 1})"
            )
        entries = [e for e in entries if e[0] in selection]
    elif selection == "present":
        kept = []
        for k, sh in entries:
            here = {key: os.path.lexists(os.path.join(real_root, sh[key])) for key in ("images", "labels")}
            if not any(here.values()):
                continue  # neither file is on this disk: not part of the subset
            if not all(here.values()):
                have, lack = ("images", "labels") if here["images"] else ("labels", "images")
                problems.append(
                    f"shard {k} is only partly present: {sh[have]} exists but {sh[lack]} is missing "
                    "(an interrupted copy?)"
                )
                continue
            kept.append((k, sh))
        entries = kept
        if not entries and not problems:
            problems.append('no shard is present (shards="present" found none of the shard files)')

    # Files: regular files in the directory (no symlink, FIFO or device), headers and sizes as recorded.
    missing_hint = selection is None
    result: List[Shard] = []
    for k, sh in entries:
        count = sh["count"]
        checked = {}
        for key, dtype, shape in (
            ("images", IMAGE_DTYPE, (count, S, S)),
            ("labels", LABEL_DTYPE, (count,)),
        ):
            name = sh[key]
            path = os.path.join(real_root, name)
            try:
                fd, st = open_regular(path)
            except FileNotFoundError:
                hint = ' (shards="present" uses only the shards on this disk)' if missing_hint else ""
                missing_hint = False  # say it once
                problems.append(f"missing file {name} (shard {k} {key}){hint}")
                continue
            except ValueError as e:
                problems.append(f"shard {k} {key} file {name} {e}")
                continue
            try:
                h = _parse_npy_header(lambda offset, n: os.pread(fd, n, offset))
                digest = _sha256_fd(fd) if verify_checksums else None
            except ValueError as e:
                problems.append(f"shard {k} {key} file {name}: {e}")
                continue
            except OSError as e:
                problems.append(f"shard {k} {key} file {name} cannot be read: {e.strerror}")
                continue
            finally:
                os.close(fd)
            bad = []
            if h.descr not in (dtype.str, dtype.str.replace("|", "<"), dtype.str.replace("|", ">")):
                bad.append(f"shard {k} {key} file {name} has dtype {h.descr!r} in its .npy header, expected {dtype.str!r}")
            if h.fortran_order:
                bad.append(f"shard {k} {key} file {name} is in Fortran order, expected C order")
            if h.shape != shape:
                bad.append(f"shard {k} {key} file {name} has shape {h.shape} in its .npy header, expected {shape}")
            if key == "images" and h.data_offset != IMAGES_DATA_OFFSET:
                bad.append(f"shard {k} {key} file {name} has its data at byte {h.data_offset}, expected {IMAGES_DATA_OFFSET}")
            if bad:
                problems.extend(bad)
                continue
            if st.st_size != h.expected_file_size:
                problems.append(
                    f"shard {k} {key} file {name} size is {st.st_size} bytes, its .npy header says "
                    f"{h.data_offset} + {h.data_bytes} = {h.expected_file_size} (truncated or corrupt)"
                )
                continue
            declared = sh[key + "Bytes"]
            if declared != st.st_size:
                problems.append(f"shard {k} {key} file {name} size is {st.st_size} bytes, the manifest says {key}Bytes {declared!r}")
                continue
            if digest is not None and digest != sh[key + "Sha256"]:
                problems.append(f"shard {k} {key} file {name} sha256 is {digest}, the manifest says {sh[key + 'Sha256']}")
                continue
            checked[key] = (path, h.data_offset, FileIdentity.of(st))
        if len(checked) == 2:
            result.append(
                Shard(
                    index=k, first=sh["first"], count=count,
                    images_name=sh["images"], labels_name=sh["labels"],
                    images_path=checked["images"][0], labels_path=checked["labels"][0],
                    images_offset=checked["images"][1], labels_offset=checked["labels"][1],
                    images_sha256=sh["imagesSha256"], labels_sha256=sh["labelsSha256"],
                    images_identity=checked["images"][2], labels_identity=checked["labels"][2],
                )
            )
    if problems:
        fail(*problems)

    if verify_checksums:
        for sh in result:
            fd = open_checked(sh.labels_path, sh.labels_identity)
            try:
                raw = os.pread(fd, 4 * sh.count, sh.labels_offset)
            finally:
                os.close(fd)
            labels = np.frombuffer(raw, dtype=LABEL_DTYPE)
            expect = c0 + np.arange(sh.first, sh.stop, dtype=np.int64) // I
            wrong = np.nonzero(labels != expect)[0] if labels.shape == expect.shape else np.array([0])
            if wrong.size:
                j = int(wrong[0])
                problems.append(
                    f"shard {sh.index} labels file {sh.labels_name} has {wrong.size} wrong labels "
                    f"(image {sh.first + j} is labelled {int(labels[j]) if j < labels.size else None}, its class is {int(expect[j])})"
                )
        if problems:
            fail(*problems)

    return DatasetInfo(
        root=real_root, manifest=m, image_size=S, classes=C, instances=I,
        start_class=c0, image_count=N, shards=tuple(result), manifest_shards=len(shards_raw),
    )
