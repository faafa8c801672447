"""Fixtures: small format-1 datasets written with NumPy the way `vatom-fast build` writes them,
and (when VATOM_DATASET names a directory) a real dataset built by the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))  # the loader package, without installing it
# The native renderer of `npm run build` (scripts/test-all.sh sets this too).
_BUILT_LIBRARY = REPO / "build" / "Release" / "libvatom_fast.so"
if "VATOM_FAST_LIBRARY" not in os.environ and _BUILT_LIBRARY.is_file():
    os.environ["VATOM_FAST_LIBRARY"] = str(_BUILT_LIBRARY)

DATA_OFFSET = 4096
CLI = REPO / "dist" / "cli" / "main.js"


def cli_build(out: Path, args) -> Path:
    """``vatom-fast build --out OUT ARGS`` as a user runs it (the CLI of ``npm run build:ts``)."""
    import subprocess

    r = subprocess.run(["node", str(CLI), "build", "--out", str(out), "--quiet", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def require_library() -> None:
    from vatom_fast import native

    if not native.available():
        pytest.fail(f"the native library is not available: {native.library_path()} (run `npm run build`, "
                    "or set VATOM_FAST_LIBRARY)")


def write_npy(path: Path, arr: np.ndarray, align: int = DATA_OFFSET) -> None:
    """Write ``arr`` as a version 1.0 .npy whose header is padded so the data starts at a multiple
    of ``align`` (4096 for image shards), via a temporary name and a rename."""
    assert arr.flags.c_contiguous
    header = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (arr.dtype.str, tuple(arr.shape))
    prefix = 6 + 2 + 2  # magic, version, uint16 header length
    pad = (-(prefix + len(header) + 1)) % align
    header = (header + " " * pad + "\n").encode("latin1")
    assert (prefix + len(header)) % align == 0 and len(header) < 65536
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)
        f.write(arr.tobytes(order="C"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Synthetic:
    root: Path
    images: np.ndarray  # (N, S, S) uint8, global order
    labels: np.ndarray  # (N,) int32
    classes: int
    instances: int
    start_class: int
    size: int
    shard_counts: List[int]

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())

    def write_manifest(self, m: dict) -> None:
        self.manifest_path.write_text(json.dumps(m, indent=2))


def write_dataset(
    root: Path,
    classes: int = 3,
    instances: int = 5,
    size: int = 32,
    start_class: int = 0,
    shard_counts: Sequence[int] = (10, 5),
    label_align: int = 64,
    seed: int = 1234,
) -> Synthetic:
    """A complete format-1 dataset: class-major images, one shard per range, manifest with sizes
    and sha256 of every file, valid against the format's schema (shards of shard_counts[0] images,
    the last one shorter, as the CLI lays them out; labels headers of 128 bytes)."""
    n = classes * instances
    assert sum(shard_counts) == n
    shard_size = shard_counts[0]
    assert all(c == shard_size for c in shard_counts[:-1]) and shard_counts[-1] <= shard_size, \
        f"shard_counts {shard_counts} is not a layout the CLI writes (equal shards, the last one shorter)"
    assert size >= 16, "the format's smallest image size is 16"
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    labels = (start_class + np.arange(n) // instances).astype(np.int32)
    shards = []
    first = 0
    for k, count in enumerate(shard_counts):
        iname, lname = f"images-{k:05d}.npy", f"labels-{k:05d}.npy"
        write_npy(root / iname, np.ascontiguousarray(images[first:first + count]), DATA_OFFSET)
        write_npy(root / lname, labels[first:first + count].astype("<i4"), label_align)
        shards.append({
            "images": iname, "labels": lname, "first": first, "count": count,
            "imagesBytes": (root / iname).stat().st_size, "labelsBytes": (root / lname).stat().st_size,
            "imagesSha256": sha256_file(root / iname), "labelsSha256": sha256_file(root / lname),
        })
        first += count
    manifest = {
        "format": "vatom-fast", "version": 1, "rng": "philox", "stream": "philox4x32-10/format-1", "seed": str(seed),
        "config": {"imageSize": size, "verticesMin": 200, "verticesMax": 1000, "orbitsMin": 1, "orbitsMax": 200,
                   "noiseMin": 0, "lineWidth": 0.1, "radiusMin": 10, "ovalRate": 2, "startPos": size,
                   "freq1Min": 0, "freq1Max": 20, "freq2Min": 0, "freq2Max": 20},
        "imageSize": size, "startClass": start_class, "requestedClasses": classes, "classes": classes,
        "instances": instances, "imageCount": n, "shardSize": shard_size, "complete": True,
        "generator": "vatom-fast 0.1.0", "dtype": "uint8", "channels": 1, "order": "class-major",
        "imagesDataOffset": DATA_OFFSET,
        "classParams": [{"class": start_class + c, "vertices": 200 + c, "orbits": 1 + c, "radius": 10, "freq1": 1,
                         "freq2": 2, "noise": 1.5, "lineWidth": 0.05, "ovalX": 1.0, "ovalY": 1.5} for c in range(classes)],
        "shards": shards,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return Synthetic(root, images, labels, classes, instances, start_class, size, list(shard_counts))


# Two synthetic layouts: whole classes per shard (labels 4096-aligned too), and shards that split
# classes with a non-zero start class (labels written by np.save's default header).
LAYOUTS = {
    "synthetic": dict(classes=3, instances=5, size=32, start_class=0, shard_counts=(10, 5)),
    "synthetic-split": dict(classes=4, instances=3, size=16, start_class=7, shard_counts=(5, 5, 2),
                            label_align=64, seed=99),
}


@pytest.fixture
def synth(tmp_path) -> Synthetic:
    """A fresh, mutable synthetic dataset (for the validation tests)."""
    return write_dataset(tmp_path / "ds")


@dataclass
class Case:
    name: str
    root: Path
    synthetic: Optional[Synthetic]


@pytest.fixture(scope="session", params=["synthetic", "synthetic-split", "env"])
def dataset_case(request, tmp_path_factory) -> Case:
    """Every read test runs on each synthetic layout, and on $VATOM_DATASET when it is set."""
    if request.param == "env":
        env = os.environ.get("VATOM_DATASET")
        if not env:
            pytest.skip("VATOM_DATASET is not set")
        if not os.path.isdir(env):
            pytest.fail(f"VATOM_DATASET={env!r} is not a directory")
        return Case("env", Path(env), None)
    s = write_dataset(tmp_path_factory.mktemp(request.param) / "ds", **LAYOUTS[request.param])
    return Case(request.param, s.root, s)


def read_expected(root: Path):
    """The whole dataset read with plain NumPy (np.load, no loader code): images, labels, manifest."""
    m = json.loads((Path(root) / "manifest.json").read_text())
    imgs = [np.load(Path(root) / s["images"], mmap_mode="r") for s in m["shards"]]
    labs = [np.load(Path(root) / s["labels"], mmap_mode="r") for s in m["shards"]]
    return np.concatenate(imgs), np.concatenate(labs), m


@pytest.fixture(scope="session")
def expected(dataset_case):
    return read_expected(dataset_case.root)
