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
import hashlib
import json
import operator
import os
import struct
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

FORMAT_NAME = "vatom-fast"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

IMAGE_DTYPE = np.dtype(np.uint8)
LABEL_DTYPE = np.dtype("<i4")

_NPY_MAGIC = b"\x93NUMPY"


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


def read_npy_header(path: str) -> NpyHeader:
    """Parse the header of a .npy file by reading its first bytes (no mapping, no data read).

    Raises ``ValueError`` describing what is wrong if it is not a well-formed .npy header.
    """
    with open(path, "rb") as f:
        pre = f.read(12)
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
        f.seek(start)
        raw = f.read(hlen)
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


@dataclass(frozen=True)
class Shard:
    """One validated shard: global images [first, first + count)."""

    index: int
    first: int
    count: int
    images_name: str
    labels_name: str
    images_path: str  # resolved, inside the dataset directory
    labels_path: str
    images_offset: int  # byte offset of image 0 in the images file
    labels_offset: int
    images_sha256: Optional[str] = None
    labels_sha256: Optional[str] = None

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


def _is_int(x: Any) -> bool:
    return type(x) is int


def _plain_name_problem(name: Any) -> Optional[str]:
    """Why ``name`` is not a plain file name that stays in the dataset directory, or None."""
    if not isinstance(name, str) or not name:
        return "is not a non-empty string"
    if "\x00" in name:
        return "contains a NUL byte"
    if os.path.isabs(name) or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if name in (".", "..") or "/" in name or "\\" in name or os.sep in name or (
        os.altsep and os.altsep in name
    ):
        return "is not a plain file name (contains a path separator or is '.'/'..')"
    return None


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 22)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


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
    mpath = os.path.join(real_root, MANIFEST_NAME)
    if not os.path.isfile(mpath):
        raise DatasetError(root_arg, [f"missing file {MANIFEST_NAME}"])
    try:
        with open(mpath, "r", encoding="utf8") as f:
            m = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise DatasetError(root_arg, [f"{MANIFEST_NAME} is not valid JSON: {e}"]) from None
    if not isinstance(m, dict):
        raise DatasetError(root_arg, [f"{MANIFEST_NAME} is not a JSON object"])

    def fail(*problems: str) -> None:
        raise DatasetError(root_arg, list(problems))

    if m.get("format") != FORMAT_NAME:
        fail(f"manifest format is {m.get('format')!r}, expected {FORMAT_NAME!r}")
    if not _is_int(m.get("version")) or m.get("version") != FORMAT_VERSION:
        fail(f"manifest version is {m.get('version')!r}, this loader reads version {FORMAT_VERSION}")
    if m.get("complete") is not True:
        fail(
            f"manifest complete is {m.get('complete')!r}: the build is still running or was "
            "interrupted (rerun the same build command to finish it)"
        )

    # storage "manifest": the manifest is the whole dataset (no shards; images are rendered on access).
    storage = m.get("storage", "npy")
    if storage not in ("npy", "manifest"):
        fail(f'manifest storage is {storage!r}, expected "npy" or "manifest"')

    problems: List[str] = []
    fields = {}
    for key, minimum in (("imageSize", 1), ("classes", 1), ("instances", 1), ("startClass", 0), ("imageCount", 1)):
        v = m.get(key)
        if not _is_int(v) or v < minimum:
            problems.append(f"manifest {key} is {v!r}, expected an integer >= {minimum}")
        fields[key] = v
    shards_raw = m.get("shards")
    if storage == "manifest":
        if shards_raw != []:
            problems.append('manifest storage is "manifest" but shards is not an empty list')
    elif not isinstance(shards_raw, list) or not shards_raw:
        problems.append(f"manifest shards is {type(shards_raw).__name__ if shards_raw is not None else 'missing'}, expected a non-empty list")
    if problems:
        fail(*problems)

    S, C, I, c0, N = (fields[k] for k in ("imageSize", "classes", "instances", "startClass", "imageCount"))
    if N != C * I:
        problems.append(f"counts do not add up: imageCount {N} != classes {C} * instances {I} = {C * I}")

    # Shard list structure: names, ranges tiling [0, imageCount).
    entries = []
    expect_first: Optional[int] = 0  # None once a range could not be read
    tiled = True
    seen_names: Dict[str, int] = {}
    for k, s in enumerate(shards_raw):
        if not isinstance(s, dict):
            problems.append(f"shard {k} is not an object")
            expect_first = None
            continue
        first, count = s.get("first"), s.get("count")
        ok = True
        if not _is_int(first) or first < 0:
            problems.append(f"shard {k} first is {first!r}, expected an integer >= 0")
            ok = False
        if not _is_int(count) or count < 1:
            problems.append(f"shard {k} count is {count!r}, expected an integer >= 1")
            ok = False
        if not ok:
            expect_first = None
        elif expect_first is not None:
            if first != expect_first:
                problems.append(
                    f"counts do not add up: shard {k} starts at image {first}, expected {expect_first} "
                    "(shards must tile [0, imageCount) in order)"
                )
                tiled = False
            expect_first = first + count
        names = {}
        for key in ("images", "labels"):
            name = s.get(key)
            why = _plain_name_problem(name)
            if why:
                problems.append(f"shard {k} {key} file name {name!r} {why}; it must stay inside the dataset directory")
                continue
            if name == MANIFEST_NAME or name in seen_names:
                problems.append(f"shard {k} {key} file name {name!r} is used twice")
                continue
            seen_names[name] = k
            names[key] = name
        entries.append((k, s, first, count, names, ok))
    if tiled and expect_first is not None and expect_first != N and storage == "npy":
        problems.append(f"counts do not add up: the shards hold {expect_first} images, imageCount is {N}")

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
        for e in entries:
            k, names = e[0], e[4]
            here = {key: os.path.lexists(os.path.join(real_root, name)) for key, name in names.items()}
            if len(names) == 2 and not any(here.values()):
                continue  # neither file is on this disk: not part of the subset
            if len(names) == 2 and not all(here.values()):
                have, lack = ("images", "labels") if here["images"] else ("labels", "images")
                problems.append(
                    f"shard {k} is only partly present: {names[have]} exists but {names[lack]} is missing "
                    "(an interrupted copy?)"
                )
                continue
            kept.append(e)
        entries = kept
        if not entries and not problems:
            problems.append('no shard is present (shards="present" found none of the shard files)')

    # Files: exist, regular, stay inside root after resolving symlinks, headers and sizes match.
    missing_hint = selection is None
    shards: List[Shard] = []
    for k, s, first, count, names, ok in entries:
        resolved = {}
        offsets = {}
        for key, dtype, shape in (
            ("images", IMAGE_DTYPE, (count, S, S)),
            ("labels", LABEL_DTYPE, (count,)),
        ):
            name = names.get(key)
            if name is None:
                continue
            path = os.path.join(real_root, name)
            if not os.path.lexists(path):
                hint = ' (shards="present" uses only the shards on this disk)' if missing_hint else ""
                missing_hint = False  # say it once
                problems.append(f"missing file {name} (shard {k} {key}){hint}")
                continue
            real = os.path.realpath(path)
            if not _inside(real, real_root):
                problems.append(f"shard {k} {key} file {name} is a symlink that leaves the dataset directory (to {real})")
                continue
            if not os.path.exists(real):
                problems.append(f"missing file {name} (shard {k} {key}: dangling symlink)")
                continue
            if not os.path.isfile(real):
                problems.append(f"shard {k} {key} file {name} is not a regular file")
                continue
            try:
                h = read_npy_header(real)
            except ValueError as e:
                problems.append(f"shard {k} {key} file {name}: {e}")
                continue
            except OSError as e:
                problems.append(f"shard {k} {key} file {name} cannot be read: {e}")
                continue
            bad = False
            if h.dtype != dtype or h.descr not in (dtype.str, dtype.str.replace("|", "<"), dtype.str.replace("|", ">")):
                problems.append(f"shard {k} {key} file {name} has dtype {h.descr!r} in its .npy header, expected {dtype.str!r}")
                bad = True
            if h.fortran_order:
                problems.append(f"shard {k} {key} file {name} is in Fortran order, expected C order")
                bad = True
            if ok and h.shape != shape:
                problems.append(f"shard {k} {key} file {name} has shape {h.shape} in its .npy header, expected {shape}")
                bad = True
            if bad or not ok:
                continue
            size = os.path.getsize(real)
            if size != h.expected_file_size:
                problems.append(
                    f"shard {k} {key} file {name} size is {size} bytes, its .npy header says "
                    f"{h.data_offset} + {h.data_bytes} = {h.expected_file_size} (truncated or corrupt)"
                )
                continue
            declared = s.get(key + "Bytes")
            if declared is not None and declared != size:
                problems.append(f"shard {k} {key} file {name} size is {size} bytes, the manifest says {key}Bytes {declared!r}")
                continue
            resolved[key] = real
            offsets[key] = h.data_offset
        if ok and len(resolved) == 2:
            shards.append(
                Shard(
                    index=k, first=first, count=count,
                    images_name=names["images"], labels_name=names["labels"],
                    images_path=resolved["images"], labels_path=resolved["labels"],
                    images_offset=offsets["images"], labels_offset=offsets["labels"],
                    images_sha256=s.get("imagesSha256"), labels_sha256=s.get("labelsSha256"),
                )
            )
    if problems:
        fail(*problems)

    if verify_checksums:
        for sh in shards:
            raw = shards_raw[sh.index]
            for key, path, name in (("images", sh.images_path, sh.images_name), ("labels", sh.labels_path, sh.labels_name)):
                want = raw.get(key + "Sha256")
                if not isinstance(want, str):
                    problems.append(f"shard {sh.index} has no {key}Sha256 in the manifest")
                    continue
                got = _sha256(path)
                if got != want.lower():
                    problems.append(f"shard {sh.index} {key} file {name} sha256 is {got}, the manifest says {want}")
            labels = np.fromfile(sh.labels_path, dtype=LABEL_DTYPE, count=sh.count, offset=sh.labels_offset)
            expect = c0 + np.arange(sh.first, sh.stop, dtype=np.int64) // I
            wrong = np.nonzero(labels != expect)[0]
            if wrong.size:
                j = int(wrong[0])
                problems.append(
                    f"shard {sh.index} labels file {sh.labels_name} has {wrong.size} wrong labels "
                    f"(image {sh.first + j} is labelled {int(labels[j])}, its class is {int(expect[j])})"
                )
        if problems:
            fail(*problems)

    return DatasetInfo(
        root=real_root, manifest=m, image_size=S, classes=C, instances=I,
        start_class=c0, image_count=N, shards=tuple(shards), manifest_shards=len(shards_raw),
    )
