"""Hostile input to the Python loader, by class: wrong data that passes the checksums, indices of every
integer type, read-only outputs, costs a small file can imply, and interrupting a long render. Each
case failed before the loader took labels from the index, converted indices exactly, probed outputs
and bounded the reference stream's replay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, cli_build, require_library, sha256_file, write_npy

from vatom_fast import DatasetError, VisualAtomDataset, load_manifest, native

SMALL = ["--image-size", "32", "--vertices", "20:60", "--orbits", "1:12", "--start-pos", "32", "--radius-min", "2"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A small CLI build: 3 classes x 4 instances in shards of 5."""
    return cli_build(tmp_path_factory.mktemp("hostile") / "ds",
                     ["--classes", "3", "--instances", "4", "--shard-size", "5", "--seed", "9", *SMALL])


# ---------------------------------------------------------------- wrong data that passes the checksums

def _rewrite_labels(synth, shard: int, labels: np.ndarray) -> None:
    """Labels shard ``shard`` replaced, with the manifest's sha256 updated to match (what `verify` and
    the loader's cheap checks accept)."""
    name = f"labels-{shard:05d}.npy"
    write_npy(synth.root / name, labels.astype("<i4"), 64)
    m = synth.manifest()
    m["shards"][shard]["labelsSha256"] = sha256_file(synth.root / name)
    synth.write_manifest(m)


@pytest.mark.parametrize("relative", [False, True])
def test_a_rehashed_labels_shard_never_changes_a_label(synth, relative):
    wrong = synth.labels[10:].copy()
    wrong[:] = (wrong + 1) % synth.classes  # every label of shard 1 names another class
    _rewrite_labels(synth, 1, wrong)
    ds = VisualAtomDataset(synth.root, output="numpy", channels=1, relative_labels=relative)
    base = 0 if relative else synth.start_class
    want = base + np.arange(len(ds)) // synth.instances
    assert [ds[i][1] for i in range(len(ds))] == want.tolist()
    assert [ds.read(i)[1] for i in range(len(ds))] == want.tolist()
    assert ds.labels().tolist() == want.tolist() and ds.targets.tolist() == want.tolist()
    with pytest.raises(DatasetError, match=r"shard 1 labels file labels-00001\.npy has 5 wrong labels"):
        VisualAtomDataset(synth.root, verify_checksums=True)


def test_a_subset_takes_labels_from_the_whole_datasets_index(synth):
    _rewrite_labels(synth, 1, np.zeros(5, dtype=np.int32))
    ds = VisualAtomDataset(synth.root, output="numpy", shards=[1])
    assert [ds[i][1] for i in range(len(ds))] == [2] * 5 and ds.labels().tolist() == [2] * 5


# ---------------------------------------------------------------- indices of every integer type

HUGE = [2 ** 64 - 1, 2 ** 64, 2 ** 63, -(2 ** 63) - 1, 2 ** 70, -(2 ** 64)]


@pytest.mark.parametrize("index", HUGE + [np.uint64(2 ** 64 - 1), np.int64(2 ** 63 - 1), np.uint32(2 ** 32 - 1)])
def test_getitem_out_of_range_is_an_index_error_whatever_its_type(synth, index):
    ds = VisualAtomDataset(synth.root, output="numpy")
    with pytest.raises(IndexError, match=rf"^index {int(index)} is out of range for a dataset of 15 images$"):
        ds[index]


@pytest.mark.parametrize("make", [
    lambda v: [v],
    lambda v: [0, v],
    lambda v: [v, -1],  # a Python int beyond int64 beside a negative one (NumPy would make floats of them)
    lambda v: np.array([v], dtype=object),
    lambda v: (v,),
], ids=["list", "list2", "mixed-sign", "object-array", "tuple"])
@pytest.mark.parametrize("value", HUGE)
def test_render_batch_out_of_range_is_an_index_error_whatever_its_type(built, make, value):
    require_library()
    ds = VisualAtomDataset(built, output="numpy")
    with pytest.raises(IndexError, match=rf"^index {value} is out of range for a dataset of 12 images$"):
        ds.render_batch(make(value))


@pytest.mark.parametrize("dtype", [np.uint64, np.uint32, np.uint16, np.uint8, np.int8, np.int16, np.int32, np.int64])
def test_render_batch_takes_every_integer_dtype_exactly(built, dtype):
    require_library()
    ds = VisualAtomDataset(built, output="numpy", channels=1)
    want = np.stack([ds[i][0] for i in (11, 0, 7)])
    images, labels = ds.render_batch(np.array([11, 0, 7], dtype=dtype))
    assert np.array_equal(images, want) and labels.tolist() == [2, 0, 1]
    images, labels = ds.render_batch([dtype(11), dtype(0), dtype(7)])  # a list of NumPy scalars
    assert np.array_equal(images, want) and labels.tolist() == [2, 0, 1]
    big = np.iinfo(dtype).max
    if big >= 12:
        with pytest.raises(IndexError, match=rf"^index {big} is out of range for a dataset of 12 images$"):
            ds.render_batch(np.array([0, big], dtype=dtype))


def test_render_batch_refuses_what_is_not_an_integer(built):
    require_library()
    ds = VisualAtomDataset(built, output="numpy")
    for bad in ([1.0], [True], np.array([True]), ["1"], [[1]], 3, [None]):
        with pytest.raises(TypeError, match=r"^indices must be a 1-D sequence of integers$"):
            ds.render_batch(bad)


def test_native_renderer_never_wraps_an_index(built):
    require_library()
    ds = VisualAtomDataset(built, output="numpy", channels=1)
    r = native.Renderer(ds.render_spec.native_spec())
    for indices, value in (([2 ** 64 - 1], 2 ** 64 - 1), (np.array([2 ** 64 - 1], dtype=np.uint64), 2 ** 64 - 1),
                           ([2 ** 64 + 3], 2 ** 64 + 3), ([3, -(2 ** 64) + 3], -(2 ** 64) + 3)):
        with pytest.raises(IndexError, match=rf"^image index {value} is outside the dataset's \[0, 12\)$"):
            r.render_indices(indices)
    for begin, end in ((2 ** 64, 2 ** 64 + 2), (0, 2 ** 64 + 1), (-(2 ** 64), 2)):
        with pytest.raises(IndexError, match=rf"^images \[{begin}, {end}\) are outside the dataset's \[0, 12\)$"):
            r.render_range(begin, end)
    assert np.array_equal(r.render_indices(np.array([5], dtype=np.uint64))[0], ds[5][0])
    r.close()


# ---------------------------------------------------------------- read-only outputs

def test_read_only_numpy_outputs_are_refused_before_rendering(built):
    require_library()
    ds = VisualAtomDataset(built, output="numpy", channels=1)
    out = np.full((2, 32, 32), 7, dtype=np.uint8)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"^out is a read-only array \(writeable=False\)"):
        ds.render_batch([0, 1], out=out)
    r = native.Renderer(ds.render_spec.native_spec())
    with pytest.raises(ValueError, match=r"^out is a read-only array"):
        r.render_range(0, 2, out=out)
    with pytest.raises(ValueError, match=r"^out is a read-only array"):
        r.render_indices([0, 1], out=out)
    assert (out == 7).all()
    r.close()


READ_ONLY_MAP = """
import ctypes, mmap, sys, warnings
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from vatom_fast import VisualAtomDataset, native
ds = VisualAtomDataset(sys.argv[2], output="numpy", channels=1)
n = 3 * 32 * 32
with open(sys.argv[3], "rb") as f:
    m = mmap.mmap(f.fileno(), n, prot=mmap.PROT_READ)
ro = np.frombuffer(m, dtype=np.uint8)
address = ro.ctypes.data
# Three ways to hold read-only memory that claim to be writable.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    tensor = torch.from_numpy(np.memmap(sys.argv[3], dtype=np.uint8, mode="r", shape=(3, 1, 32, 32)))
forged = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(address)).reshape(3, 32, 32)
assert forged.flags.writeable
renderer = native.Renderer(ds.render_spec.native_spec())
for what, call in (
    ("tensor", lambda: ds.render_batch([0, 1, 2], output="tensor", out=tensor)),
    ("forged array", lambda: ds.render_batch([0, 1, 2], out=forged)),
    ("render_range", lambda: renderer.render_range(0, 3, out=forged)),
    ("render_into", lambda: renderer.render_into(np.arange(3, dtype=np.int64), address, n)),
):
    try:
        call()
        print(what, "rendered")
    except ValueError as e:
        print(what, "refused:", e)
"""


def test_read_only_memory_is_refused_before_native_code_writes_to_it(built, tmp_path):
    """A tensor over a read-only memory map (and arrays forged over one) crashed the process."""
    require_library()
    pytest.importorskip("torch")
    backing = tmp_path / "zeros.bin"
    backing.write_bytes(bytes(3 * 32 * 32))
    r = subprocess.run([sys.executable, "-c", READ_ONLY_MAP, str(REPO / "python"), str(built), str(backing)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert [line.split(" refused: ")[0] for line in lines] == ["tensor", "forged array", "render_range", "render_into"]
    for line in lines:
        assert line.endswith("out is read-only memory (for example a tensor over a read-only memory map): "
                             "render into a writable array or tensor"), line
    assert backing.read_bytes() == bytes(3 * 32 * 32)


# ---------------------------------------------------------------- costs a small file can imply

@pytest.mark.parametrize("name", ["images-00001.npy", "labels-00000.npy"])
def test_verify_checksums_compares_sizes_before_hashing(synth, monkeypatch, name):
    """A 16 GB sparse file in place of a shard is refused from its size, without reading it."""
    from vatom_fast import manifest as manifest_module

    hash_file = manifest_module.sha256_fd

    def hash_unless_huge(fd):
        assert os.fstat(fd).st_size != 16 << 30, "a file whose size is wrong was hashed"
        return hash_file(fd)
    monkeypatch.setattr(manifest_module, "sha256_fd", hash_unless_huge)
    with open(synth.root / name, "r+b") as f:
        f.truncate(16 << 30)
    with pytest.raises(DatasetError, match=rf"{name} size is 17179869184 bytes, its \.npy header says"):
        load_manifest(str(synth.root), verify_checksums=True)
    with pytest.raises(DatasetError, match=rf"{name} size is 17179869184 bytes"):
        VisualAtomDataset(synth.root, verify_checksums=True)


def _reference_manifest(built: Path, tmp: Path, instances: int) -> Path:
    """A manifest-only reference-stream dataset of ``instances`` per class (no shards to fake)."""
    m = json.loads((built / "manifest.json").read_text())
    m.update({"rng": "reference", "stream": "cpython-mt19937/render_VisualAtom.py", "seed": "per process: t + 1",
              "referenceThreads": 1, "instances": instances, "imageCount": m["classes"] * instances,
              "storage": "manifest", "shards": [], "shardSize": max(1, m["classes"] * instances // 1000)})
    tmp.mkdir()
    (tmp / "manifest.json").write_text(json.dumps(m))
    return tmp


@pytest.mark.parametrize("instances", [100_001, 2 ** 32 - 1])
def test_reference_replay_is_bounded_when_a_manifest_is_loaded(built, tmp_path, instances):
    root = _reference_manifest(built, tmp_path / "ref", instances)
    with pytest.raises(DatasetError, match=rf"manifest\.json: instances {instances} is more than the 100000 the "
                                           r"reference stream allows \(it replays a class from its start"):
        load_manifest(str(root))
    with pytest.raises(DatasetError, match=rf"instances {instances} is more than the 100000"):
        VisualAtomDataset(root, source="render")


def test_reference_replay_bound_is_the_schemas():
    from vatom_fast import rules, schema

    assert rules.MAX_REFERENCE_INSTANCES == schema.schema()["definitions"]["referenceInstances"]["maximum"] == 100_000
    assert rules.MAX_THREADS == schema.schema()["definitions"]["threads"]["maximum"] == 1024


def test_reference_replay_is_bounded_for_a_preset():
    with pytest.raises(ValueError, match=r"^invalid value for instances: 100001; expected an integer from 1 to 100000 "
                                         r"with rng 'reference' \(it replays a class from its start"):
        VisualAtomDataset.preset("visualatom-1k", rng="reference", instances=100_001)
    require_library()
    ds = VisualAtomDataset.preset("visualatom-1k", rng="reference", classes=1, instances=100_000, image_size=32,
                                  output="numpy")
    assert len(ds) == 100_000 and ds.manifest["instances"] == 100_000


INTERRUPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from vatom_fast import VisualAtomDataset
# One 64 px image of 10^5 vertices x 10^5 orbits: minutes of work in one native call.
ds = VisualAtomDataset.preset("visualatom-1k", seed=0, classes=1, instances=1, image_size=64,
                              vertices=(100000, 100000), orbits=(100000, 100000), output="numpy")
print("ready", flush=True)
t = time.monotonic()
try:
    ds.render_batch([0], threads=1)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted after %.1f s" % (time.monotonic() - t), flush=True)
"""


def test_ctrl_c_stops_a_long_render():
    require_library()
    p = subprocess.Popen([sys.executable, "-c", INTERRUPT, str(REPO / "python")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 0, err[-2000:]
    assert out.startswith("interrupted after "), out
    # Stopped by the interrupt, not by the render's end (it takes minutes).
    assert float(out.split()[2]) < 10, out
