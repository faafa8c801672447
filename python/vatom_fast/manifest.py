"""Reading and checking a vatom-fast dataset directory (format 1) without mapping any shard.

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

import json
import operator
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from . import rules, schema
from .errors import DatasetError
from .npy import IMAGE_DTYPE, LABEL_DTYPE, parse_npy_header
from .safe_files import FileIdentity, open_checked, open_regular, read_all, sha256_fd


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
        if st.st_size > rules.MAX_JSON_BYTES:
            raise DatasetError(root, [f"{name} is {st.st_size} bytes, more than the {rules.MAX_JSON_BYTES} a vatom-fast file may have"])
        text = read_all(fd, st.st_size)
    finally:
        os.close(fd)
    try:
        m = json.loads(text.decode("utf8"))
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


def _read_complete_manifest(root_arg: str) -> Tuple[str, Dict[str, Any]]:
    """The resolved directory and its manifest: schema-valid, complete, not a part, rules kept."""
    if not os.path.isdir(root_arg):
        raise DatasetError(root_arg, [f"{root_arg!r} is not a directory (missing dataset?)"])
    real_root = os.path.realpath(root_arg)
    try:
        m = read_manifest_file(os.path.join(real_root, rules.MANIFEST_NAME))
    except DatasetError as e:
        raise DatasetError(root_arg, e.problems) from None
    if m["complete"] is not True:
        raise DatasetError(root_arg, [
            f"manifest complete is {m['complete']!r}: the build is still running or was "
            "interrupted (rerun the same build command to finish it)"])
    if "part" in m:
        raise DatasetError(root_arg, [f"{rules.MANIFEST_NAME} is a worker's partial manifest (run vatom-fast merge)"])
    problem = rules.manifest_problem(m)
    if problem:
        raise DatasetError(root_arg, [f"{rules.MANIFEST_NAME}: {problem}"])
    return real_root, m


def _selected_entries(m: Dict[str, Any], selection: Any, real_root: str, root_arg: str,
                      problems: List[str]) -> List[Tuple[int, Dict[str, Any]]]:
    """The (position, entry) of each shard to open; a partly present shard is added to ``problems``."""
    listed = m["shards"]
    if isinstance(selection, tuple):
        too_big = [k for k in selection if k >= len(listed)]
        if too_big:
            raise ValueError(
                f"shards lists shard {too_big[0]}, but the manifest at {root_arg} has "
                f"{len(listed)} shards (0..{len(listed) - 1})")
        return [(k, listed[k]) for k in selection]
    if selection != "present":
        return list(enumerate(listed))
    kept = []
    for k, sh in enumerate(listed):
        here = {key: os.path.lexists(os.path.join(real_root, sh[key])) for key in ("images", "labels")}
        if not any(here.values()):
            continue  # neither file is on this disk: not part of the subset
        if not all(here.values()):
            have, lack = ("images", "labels") if here["images"] else ("labels", "images")
            problems.append(f"shard {k} is only partly present: {sh[have]} exists but {sh[lack]} is missing "
                            "(an interrupted copy?)")
            continue
        kept.append((k, sh))
    if not kept and not problems:
        problems.append('no shard is present (shards="present" found none of the shard files)')
    return kept


def _header_problems(where: str, h: Any, key: str, dtype: np.dtype, shape: Tuple[int, ...]) -> List[str]:
    bad = []
    if not h.dtype_is(dtype):
        bad.append(f"{where} has dtype {h.descr!r} in its .npy header, expected {dtype.str!r}")
    if h.fortran_order:
        bad.append(f"{where} is in Fortran order, expected C order")
    if h.shape != shape:
        bad.append(f"{where} has shape {h.shape} in its .npy header, expected {shape}")
    if key == "images" and h.data_offset != rules.IMAGES_DATA_OFFSET:
        bad.append(f"{where} has its data at byte {h.data_offset}, expected {rules.IMAGES_DATA_OFFSET}")
    return bad


def _check_shard_file(path: str, k: int, sh: Dict[str, Any], key: str, shape: Tuple[int, ...],
                      verify_checksums: bool) -> Union[Tuple[int, FileIdentity], List[str]]:
    """(data offset, identity) of one shard file that is what the manifest says, or its problems.
    Raises ``FileNotFoundError`` if it is missing."""
    name = sh[key]
    where = f"shard {k} {key} file {name}"
    dtype = IMAGE_DTYPE if key == "images" else LABEL_DTYPE
    try:
        fd, st = open_regular(path)
    except ValueError as e:
        return [f"{where} {e}"]
    try:
        h = parse_npy_header(lambda offset, n: os.pread(fd, n, offset))
        bad = _header_problems(where, h, key, dtype, shape)
        if bad:
            return bad
        if st.st_size != h.expected_file_size:
            return [f"{where} size is {st.st_size} bytes, its .npy header says "
                    f"{h.data_offset} + {h.data_bytes} = {h.expected_file_size} (truncated or corrupt)"]
        declared = sh[key + "Bytes"]
        if declared != st.st_size:
            return [f"{where} size is {st.st_size} bytes, the manifest says {key}Bytes {declared!r}"]
        digest = sha256_fd(fd) if verify_checksums else None
        if digest is not None and digest != sh[key + "Sha256"]:
            return [f"{where} sha256 is {digest}, the manifest says {sh[key + 'Sha256']}"]
    except ValueError as e:
        return [f"{where}: {e}"]
    except OSError as e:
        return [f"{where} cannot be read: {e.strerror}"]
    finally:
        os.close(fd)
    return h.data_offset, FileIdentity.of(st)


def _check_shards(m: Dict[str, Any], entries: List[Tuple[int, Dict[str, Any]]], real_root: str,
                  verify_checksums: bool, hint_missing: bool, problems: List[str]) -> List[Shard]:
    """The entries whose two files are regular files in the directory with the recorded headers,
    sizes (and checksums); the others' problems are added to ``problems``."""
    S = m["imageSize"]
    result: List[Shard] = []
    for k, sh in entries:
        count = sh["count"]
        checked = {}
        for key, shape in (("images", (count, S, S)), ("labels", (count,))):
            path = os.path.join(real_root, sh[key])
            try:
                found = _check_shard_file(path, k, sh, key, shape, verify_checksums)
            except FileNotFoundError:
                hint = ' (shards="present" uses only the shards on this disk)' if hint_missing else ""
                hint_missing = False  # say it once
                problems.append(f"missing file {sh[key]} (shard {k} {key}){hint}")
                continue
            if isinstance(found, list):
                problems.extend(found)
                continue
            checked[key] = (path,) + found
        if len(checked) == 2:
            (ipath, ioff, iid), (lpath, loff, lid) = checked["images"], checked["labels"]
            result.append(Shard(
                index=k, first=sh["first"], count=count, images_name=sh["images"], labels_name=sh["labels"],
                images_path=ipath, labels_path=lpath, images_offset=ioff, labels_offset=loff,
                images_sha256=sh["imagesSha256"], labels_sha256=sh["labelsSha256"],
                images_identity=iid, labels_identity=lid))
    return result


def _label_problems(shards: List[Shard], start_class: int, instances: int) -> List[str]:
    """Each shard whose labels are not the classes of its images (class-major)."""
    problems = []
    for sh in shards:
        fd = open_checked(sh.labels_path, sh.labels_identity)
        try:
            raw = os.pread(fd, 4 * sh.count, sh.labels_offset)
        finally:
            os.close(fd)
        labels = np.frombuffer(raw, dtype=LABEL_DTYPE)
        expect = start_class + np.arange(sh.first, sh.stop, dtype=np.int64) // instances
        wrong = np.nonzero(labels != expect)[0] if labels.shape == expect.shape else np.array([0])
        if wrong.size:
            j = int(wrong[0])
            problems.append(
                f"shard {sh.index} labels file {sh.labels_name} has {wrong.size} wrong labels "
                f"(image {sh.first + j} is labelled {int(labels[j]) if j < labels.size else None}, its class is {int(expect[j])})")
    return problems


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
    real_root, m = _read_complete_manifest(root_arg)
    problems: List[str] = []
    entries = _selected_entries(m, selection, real_root, root_arg, problems)
    result = _check_shards(m, entries, real_root, verify_checksums, selection is None, problems)
    if problems:
        raise DatasetError(root_arg, problems)
    if verify_checksums:
        problems = _label_problems(result, m["startClass"], m["instances"])
        if problems:
            raise DatasetError(root_arg, problems)
    return DatasetInfo(
        root=real_root, manifest=m, image_size=m["imageSize"], classes=m["classes"], instances=m["instances"],
        start_class=m["startClass"], image_count=m["imageCount"], shards=tuple(result), manifest_shards=len(m["shards"]),
    )
