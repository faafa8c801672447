"""On-the-fly rendering (issue 10): images rendered by the native library through ctypes equal the
bytes `vatom-fast build` stored, for both streams, through source="render", preset(), manifest-only
directories, the batch path and DataLoader workers; and the errors say what is wrong."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, cli_build, require_library

import vatom_fast
from vatom_fast import DatasetError, NativeUnavailable, VisualAtomDataset
from vatom_fast import native

SMALL = ["--image-size", "64", "--vertices", "20:60", "--orbits", "1:12", "--start-pos", "64", "--radius-min", "2"]

# name -> CLI arguments. Several shards each; threads 1 and 2; a non-zero start class; both streams;
# the paper's 512 px preset with few images.
CONFIGS = {
    "philox-t1-start5": ["--classes", "3", "--instances", "4", "--start-class", "5", "--seed", "11",
                         "--shard-size", "5", "--threads", "1", *SMALL],
    "philox-t2": ["--classes", "4", "--instances", "3", "--seed", "12345678901234567890", "--shard-size", "7",
                  "--threads", "2", *SMALL],
    "reference-t2-procs2": ["--rng", "reference", "--reference-threads", "2", "--classes", "4", "--instances", "3",
                            "--shard-size", "5", "--threads", "2", *SMALL],
    "reference-t1-start3": ["--rng", "reference", "--classes", "2", "--instances", "4", "--start-class", "3",
                            "--shard-size", "3", "--threads", "1", *SMALL],
    "philox-paper-512": ["--preset", "visualatom-1k", "--classes", "2", "--instances", "2", "--seed", "5",
                         "--shard-size", "3", "--threads", "2"],
    "reference-paper-512": ["--rng", "reference", "--preset", "visualatom-1k", "--classes", "1", "--instances", "3",
                            "--shard-size", "2", "--threads", "2"],
}


@pytest.fixture(scope="session")
def builds(tmp_path_factory):
    """CLI builds, made on first use and kept for the session; ``manifest=True``: `vatom-fast build
    --format manifest` of the config (manifest.json only, no shards)."""
    made = {}

    def get(name: str, manifest: bool = False) -> Path:
        if (name, manifest) not in made:
            tag, extra = ("-manifest", ["--format", "manifest"]) if manifest else ("", [])
            out = cli_build(tmp_path_factory.mktemp(name + tag) / "ds", [*CONFIGS[name], *extra])
            if manifest:
                assert [p.name for p in out.iterdir()] == ["manifest.json"]
            made[name, manifest] = out
        return made[name, manifest]

    return get


@pytest.fixture(scope="session")
def manifest_builds(builds):
    return lambda name: builds(name, manifest=True)


def stored_images(root: Path) -> np.ndarray:
    m = json.loads((root / "manifest.json").read_text())
    return np.concatenate([np.load(root / s["images"]) for s in m["shards"]])


def manifest_only(src: Path, dest: Path) -> Path:
    """A manifest-only directory (SHARED-DECISIONS 1) made from a real build's manifest."""
    dest.mkdir(parents=True)
    m = json.loads((src / "manifest.json").read_text())
    m["storage"] = "manifest"
    m["shards"] = []
    (dest / "manifest.json").write_text(json.dumps(m, indent=2))
    return dest


@pytest.mark.parametrize("name", list(CONFIGS))
def test_source_render_equals_the_stored_shards(builds, name):
    require_library()
    root = builds(name)
    want = stored_images(root)
    stored = VisualAtomDataset(root, output="numpy", channels=1)
    rendered = VisualAtomDataset(root, output="numpy", channels=1, source="render")
    assert rendered.rendering and not stored.rendering
    assert len(rendered) == len(stored) == want.shape[0]
    # Out of order (the reference stream replays), and each image twice.
    order = list(np.random.default_rng(0).permutation(len(rendered))) + list(range(len(rendered)))
    for i in order:
        img, label = rendered[i]
        assert np.array_equal(img, want[i]), f"{name}: image {i} differs"
        assert label == stored[i][1]
    assert np.array_equal(rendered.labels(), stored.labels())


@pytest.mark.parametrize("name", ["philox-t2", "reference-t2-procs2", "philox-paper-512"])
def test_batch_path_equals_the_stored_shards(builds, name):
    require_library()
    root = builds(name)
    want = stored_images(root)
    ds = VisualAtomDataset(root, output="numpy", channels=1)  # stored: render_batch renders anyway
    idx = np.random.default_rng(1).permutation(len(ds))
    idx = np.concatenate([idx, idx[:2]])  # repeats too
    images, labels = ds.render_batch(idx, threads=2)
    assert images.shape == (idx.size, ds.image_size, ds.image_size) and images.dtype == np.uint8
    assert np.array_equal(images, want[idx])
    assert np.array_equal(labels, ds.labels()[idx])
    out = np.zeros_like(images)
    again, _ = ds.render_batch(idx, out=out, threads=1)
    assert again is out and np.array_equal(out, want[idx])


def test_batch_path_into_a_tensor(builds):
    torch = pytest.importorskip("torch")
    require_library()
    root = builds("philox-t1-start5")
    want = stored_images(root)
    ds = VisualAtomDataset(root, output="tensor", channels=1, source="render", relative_labels=True)
    idx = [11, 0, 7, 7, 3]
    images, labels = ds.render_batch(idx, output="tensor", threads=2)
    assert tuple(images.shape) == (5, 1, 64, 64) and images.dtype == torch.uint8
    assert np.array_equal(images[:, 0].numpy(), want[idx])
    assert labels.tolist() == [i // 4 for i in idx]
    out = torch.zeros((5, 1, 64, 64), dtype=torch.uint8)
    got, _ = ds.render_batch(idx, out=out, output="tensor")
    assert got is out and np.array_equal(out[:, 0].numpy(), want[idx])
    with pytest.raises(ValueError, match=r"out must be a contiguous uint8 CPU tensor of shape \(5, 1, 64, 64\)"):
        ds.render_batch(idx, out=torch.zeros((5, 64, 64), dtype=torch.uint8), output="tensor")
    if torch.cuda.is_available():
        pinned, _ = ds.render_batch(idx, output="tensor", pin_memory=True)
        assert pinned.is_pinned() and np.array_equal(pinned[:, 0].numpy(), want[idx])


def test_shard_subset_renders_the_same_images(builds):
    require_library()
    root = builds("philox-t1-start5")
    stored = VisualAtomDataset(root, output="numpy", shards=[1, 2])
    rendered = VisualAtomDataset(root, output="numpy", shards=[1, 2], source="render")
    assert len(rendered) == len(stored) == 7
    for i in range(len(stored)):
        assert rendered.global_index(i) == stored.global_index(i)
        a, b = stored[i], rendered[i]
        assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    assert np.array_equal(rendered.labels(), stored.labels())


def test_preset_equals_a_cli_build_of_the_preset(tmp_path):
    require_library()
    root = cli_build(tmp_path / "ds", ["--preset", "visualatom-1k", "--classes", "2", "--instances", "3",
                                       "--seed", "0", "--threads", "2"])
    want = stored_images(root)
    ds = VisualAtomDataset.preset("visualatom-1k", seed=0, output="numpy", channels=1)
    assert len(ds) == 1000 * 1000 and ds.image_size == 512 and ds.num_classes == 1000
    # The build's image (class c, instance k) is image c * 1000 + k of the whole preset.
    for c in range(2):
        for k in range(3):
            img, label = ds[c * 1000 + k]
            assert np.array_equal(img, want[c * 3 + k]) and label == c
    images, labels = ds.render_batch([1002, 0, 1], threads=2)
    assert np.array_equal(images, want[[5, 0, 1]]) and labels.tolist() == [1, 0, 0]
    # The manifest's class parameters are the ones the library draws for the preset.
    m = json.loads((root / "manifest.json").read_text())
    drawn = vatom_fast.RenderSpec.preset("visualatom-1k", seed=0, classes=2).drawn_class_params()
    from_manifest = vatom_fast.render.params_from_manifest(m["classParams"], 2)
    assert drawn.tobytes() == from_manifest.tobytes()
    small = VisualAtomDataset.preset("visualatom-21k", seed=0, classes=3, instances=2, start_class=20997, output="numpy")
    assert len(small) == 6 and small.classes == [20997, 20998, 20999]


def test_rcdb_preset_equals_a_cli_build_with_its_parameters_by_name(tmp_path):
    require_library()
    root = cli_build(tmp_path / "ds", ["--preset", "rcdb-1k", "--classes", "2", "--instances", "3", "--seed", "5",
                                       "--threads", "2"])
    want = stored_images(root)
    ds = VisualAtomDataset(vatom_fast.RenderSpec.preset("rcdb-1k", seed=5, classes=2, instances=3), output="numpy", channels=1)
    for i in range(6):
        assert np.array_equal(ds[i][0], want[i])
    images, _ = ds.render_batch([5, 0, 3], threads=2)
    assert np.array_equal(images, want[[5, 0, 3]])
    m = json.loads((root / "manifest.json").read_text())
    stored = VisualAtomDataset(root, output="numpy")
    for c in range(2):
        assert ds.class_params(c) == stored.class_params(c) == m["classParams"][c]
        assert set(m["classParams"][c]) >= {"centreY", "centreX"}


def test_presets_json_is_the_clis_definition():
    presets = json.loads((REPO / "python" / "vatom_fast" / "format" / "presets.json").read_text())
    r = subprocess.run(["node", "-e", "console.log(JSON.stringify(require(process.argv[1]).PRESETS))",
                        str(REPO / "dist" / "generators" / "presets.js")], capture_output=True, text=True, check=True)
    cli = json.loads(r.stdout)
    assert set(cli) == set(presets["presets"]) == {"visualatom-1k", "visualatom-21k", "rcdb-1k", "rcdb-21k"}
    for name, p in presets["presets"].items():
        assert cli[name] == {"family": p.get("family", "visualatom"), "classes": p["classes"], "instances": p["instances"],
                             "config": presets["configs"][p["config"]], "referenceThreads": p.get("referenceThreads", 1)}
        assert vatom_fast.render.RenderSpec.preset(name).family == p.get("family", "visualatom")


@pytest.mark.parametrize("name", ["philox-t1-start5", "reference-t2-procs2"])
def test_manifest_only_directory_renders_on_access(builds, manifest_builds, name):
    require_library()
    root = manifest_builds(name)
    want = stored_images(builds(name))
    ds = VisualAtomDataset(root, output="numpy", channels=1)  # source="auto"
    assert ds.rendering and len(ds) == want.shape[0] and ds.shards == ()
    for i in range(len(ds)):
        assert np.array_equal(ds[i][0], want[i])
    with pytest.raises(DatasetError, match=r'source="shards", but this dataset is manifest-only'):
        VisualAtomDataset(root, source="shards")
    with pytest.raises(ValueError, match=r"source must be one of \('auto', 'shards', 'render'\), got 'disk'"):
        VisualAtomDataset(root, source="disk")


def _collect(loader):
    images, labels = [], []
    for x, y in loader:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_render_a_manifest_only_directory(builds, manifest_builds, context):
    torch = pytest.importorskip("torch")
    require_library()
    from torch.utils.data import DataLoader

    root = manifest_builds("philox-t2")
    want = stored_images(builds("philox-t2"))
    ds = VisualAtomDataset(root, output="tensor", channels=1)
    loader = DataLoader(ds, batch_size=5, num_workers=2, multiprocessing_context=context)
    images, labels = _collect(loader)
    assert np.array_equal(images[:, 0], want)
    assert np.array_equal(labels, np.arange(len(ds)) // 3)
    assert ds._reader.renderers._handles == {}  # the parent rendered nothing: each worker made its own handle


def test_distributed_sampler_splits_a_rendered_dataset(builds, manifest_builds):
    torch = pytest.importorskip("torch")
    require_library()
    from torch.utils.data import DataLoader, DistributedSampler

    root = manifest_builds("reference-t2-procs2")
    want = stored_images(builds("reference-t2-procs2"))
    ds = VisualAtomDataset(root, output="tensor", channels=1)
    seen = {}
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=3)
        order = list(sampler)
        images, _ = _collect(DataLoader(ds, batch_size=4, sampler=sampler, num_workers=2))
        for j, i in enumerate(order):
            assert np.array_equal(images[j, 0], want[i])
            seen[i] = True
    assert sorted(seen) == list(range(len(ds)))


def test_shard_window_sampler_on_a_manifest_only_directory(builds, manifest_builds):
    require_library()
    from vatom_fast import ShardWindowSampler

    root = manifest_builds("philox-t1-start5")  # shardSize 5 over 12 images
    want = stored_images(builds("philox-t1-start5"))
    ds = VisualAtomDataset(root, output="numpy", channels=1)
    assert ds.shard_sizes == VisualAtomDataset(builds("philox-t1-start5")).shard_sizes == (5, 5, 2)
    order = list(ShardWindowSampler(ds, window_images=5, seed=1))
    assert sorted(order) == list(range(12))
    for i in order[:4]:
        assert np.array_equal(ds[i][0], want[i])


# ---------------------------------------------------------------------------------------------- errors


def _run_python(code: str, env_changes: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VATOM_FAST_LIBRARY"}
    env.update(env_changes)
    env["PYTHONPATH"] = str(REPO / "python")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


MISSING = (
    "import sys, vatom_fast\n"
    "try:\n"
    "    vatom_fast.VisualAtomDataset.preset('visualatom-1k')\n"
    "except vatom_fast.NativeUnavailable as e:\n"
    "    print(e)\n"
    "ds = vatom_fast.VisualAtomDataset(sys.argv[1], output='numpy', channels=1)\n"
    "print(len(ds), ds[0][0].shape)\n"
)


def test_library_pointed_nowhere(builds):
    root = builds("philox-t1-start5")
    r = _run_python(MISSING.replace("sys.argv[1]", repr(str(root))), {"VATOM_FAST_LIBRARY": "/nonexistent/libvatom_fast.so"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("vatom-fast cannot render: VATOM_FAST_LIBRARY=/nonexistent/libvatom_fast.so does not exist. "
                        "Point it at the libvatom_fast library (`npm run build` writes build/Release/libvatom_fast.so) "
                        "or unset it to use the one installed with the Python package.")
    assert lines[1] == "12 (64, 64)"  # reading shards still works


def test_library_not_built_into_the_package(builds):
    root = builds("philox-t1-start5")
    assert not (REPO / "python" / "vatom_fast" / "_lib").exists()  # the source tree has none
    r = _run_python(MISSING.replace("sys.argv[1]", repr(str(root))), {})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    lib = REPO / "python" / "vatom_fast" / "_lib" / "libvatom_fast.so"
    assert lines[0].startswith(f"vatom-fast cannot render: its native library {lib} is not installed. Rendering needs "
                               "a C++17 compiler (g++ or clang++) and CMake >= 3.18")
    assert lines[1] == "12 (64, 64)"


def test_library_that_is_not_a_library(tmp_path):
    fake = tmp_path / "libvatom_fast.so"
    fake.write_text("not a shared object")
    r = _run_python("import vatom_fast.native as n\ntry:\n    n.library()\nexcept n.NativeUnavailable as e:\n    print(e)\n",
                    {"VATOM_FAST_LIBRARY": str(fake)})
    assert r.stdout.startswith(f"vatom-fast cannot render: loading {fake} failed: "), r.stdout + r.stderr


def _small_spec(**changes):
    spec = vatom_fast.RenderSpec(
        config={"imageSize": 32, "verticesMin": 20, "verticesMax": 40, "orbitsMin": 1, "orbitsMax": 6,
                "noiseMin": 0, "lineWidth": 0.1, "radiusMin": 2, "ovalRate": 2, "startPos": 32,
                "freq1Min": 0, "freq1Max": 20, "freq2Min": 0, "freq2Max": 20},
        stream="philox", seed=1, start_class=0, classes=2, instances=2)
    for k, v in changes.items():
        if k in spec.config:
            spec.config[k] = v
        else:
            setattr(spec, k, v)
    return spec


@pytest.mark.parametrize("changes, message", [
    ({"imageSize": 8}, "bad spec: imageSize is 8, expected an integer from 16 to 8192"),
    ({"verticesMin": 50}, "bad spec: vertices is 50:40, expected min <= max"),
    ({"freq1Min": 5, "freq1Max": 5, "freq2Min": 5, "freq2Max": 5},
     "bad spec: freq2 is 5:5, expected a range that can draw a value other than n1 (the redraw of n2 would never end)"),
    ({"classes": 0}, "bad spec: classes is 0, expected an integer from 1 to 4294967296"),
    ({"stream": "reference", "reference_threads": 3},
     "bad spec: classes (2) must be a multiple of referenceThreads (3) for the reference stream"),
    ({"ovalRate": float("nan")}, "bad spec: ovalRate is nan, expected a finite number from 1 to 1e+06"),
])
def test_bad_spec_through_the_c_abi(changes, message):
    require_library()
    with pytest.raises(native.NativeSpecError) as e:
        native.Renderer(_small_spec(**changes).native_spec())
    assert e.value.code == native.ERROR_INVALID_ARGUMENT
    assert e.value.message == message
    # The process lives and the library still works.
    r = native.Renderer(_small_spec().native_spec(), threads=2)
    assert r.render_range(0, 4).shape == (4, 32, 32)


def test_bad_class_params_through_the_c_abi():
    require_library()
    spec = _small_spec()
    params = spec.drawn_class_params()
    params[1]["vertices"] = 2
    spec.class_params = params
    with pytest.raises(native.NativeSpecError, match=r"^bad spec: classParams\[1\]\.vertices is 2, expected an integer from 3 to 100000$"):
        native.Renderer(spec.native_spec())


def test_index_out_of_range(builds):
    require_library()
    ds = VisualAtomDataset(builds("philox-t1-start5"), output="numpy", source="render")
    with pytest.raises(IndexError, match=r"^index 12 is out of range for a dataset of 12 images$"):
        ds[12]
    with pytest.raises(IndexError, match=r"^index -13 is out of range for a dataset of 12 images$"):
        ds.render_batch([0, -13])
    assert np.array_equal(ds[-1][0], ds[11][0])
    r = native.Renderer(ds.render_spec.native_spec())
    with pytest.raises(native.NativeIndexError) as e:
        r.render_indices([3, 12])
    assert e.value.code == native.ERROR_OUT_OF_RANGE
    assert str(e.value) == "image index 12 (position 1) is outside the dataset's [0, 12)"
    with pytest.raises(native.NativeIndexError, match=r"^images \[10, 13\) are outside the dataset's \[0, 12\)$"):
        r.render_range(10, 13)


def test_class_params_that_disagree_with_the_seed(builds, tmp_path):
    require_library()
    root = manifest_only(builds("philox-t2"), tmp_path / "mo")
    m = json.loads((root / "manifest.json").read_text())
    m["seed"] = "3"  # another seed draws other parameters than those listed
    (root / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DatasetError, match=r"the manifest's class parameters disagree with its seed"):
        VisualAtomDataset(root)
    m = json.loads((builds("philox-t2") / "manifest.json").read_text())
    m["storage"], m["shards"] = "manifest", []
    m["classParams"][2]["noise"] += 0.5
    (root / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DatasetError, match=r"classParams of class 2 has noise .*, but the config, rng and seed draw"):
        VisualAtomDataset(root)
    # Stored datasets read without that check; rendering them checks it.
    stored = tmp_path / "stored"
    shutil.copytree(builds("philox-t2"), stored)
    (stored / "manifest.json").write_text(json.dumps({**m, "storage": "npy", "shards": json.loads(
        (builds("philox-t2") / "manifest.json").read_text())["shards"]}))
    assert len(VisualAtomDataset(stored)) == 12
    with pytest.raises(DatasetError, match=r"disagree with its seed"):
        VisualAtomDataset(stored, source="render")


def test_cancel_stops_one_huge_image():
    require_library()
    spec = _small_spec(imageSize=8192, startPos=8192, verticesMin=100000, verticesMax=100000,
                       orbitsMin=100000, orbitsMax=100000, classes=1, instances=1)
    r = native.Renderer(spec.native_spec())
    threading.Timer(0.3, r.cancel).start()
    started = time.monotonic()
    with pytest.raises(vatom_fast.RenderCancelled):
        r.render_range(0, 1)
    assert time.monotonic() - started < 5
    with pytest.raises(vatom_fast.RenderCancelled):  # sticky until resume()
        r.render_range(0, 1)


def test_concurrent_renders_on_different_handles(builds):
    """ctypes releases the GIL: threads render on their own handles at the same time, both streams."""
    require_library()
    names = ["philox-t2", "reference-t2-procs2", "philox-t1-start5", "reference-t1-start3"]
    jobs = []
    for name in names:
        ds = VisualAtomDataset(builds(name), output="numpy", source="render")
        jobs.append((ds.render_spec, stored_images(builds(name))))
    results = {}
    errors = []

    def work(k):
        try:
            spec, want = jobs[k % len(jobs)]
            r = native.Renderer(spec.native_spec(), threads=2)
            for _ in range(5):
                order = np.random.default_rng(k).permutation(want.shape[0])
                results[k] = np.array_equal(r.render_indices(order), want[order]) and \
                    np.array_equal(r.render_range(0, want.shape[0]), want) and results.get(k, True)
            r.close()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == {k: True for k in range(8)}


def test_class_params_by_the_manifests_names_from_every_kind_of_dataset(builds, manifest_builds):
    """``ds.class_params(label)``: the manifest's entry for a stored or manifest-only dataset, what
    the library draws for a preset, and the same for each; labels as the dataset gives them."""
    require_library()
    root = builds("philox-t1-start5")
    m = json.loads((root / "manifest.json").read_text())
    stored = VisualAtomDataset(root, output="numpy")
    rendered = VisualAtomDataset(manifest_builds("philox-t1-start5"), output="numpy")
    relative = VisualAtomDataset(root, output="numpy", relative_labels=True)
    for c in range(3):
        want = m["classParams"][c]
        assert set(want) == {"class", "vertices", "orbits", "radius", "freq1", "freq2", "noise", "lineWidth", "ovalX", "ovalY"}
        assert stored.class_params(5 + c) == want
        assert rendered.class_params(5 + c) == want
        assert relative.class_params(c) == want
        assert stored.class_params(stored[c * 4][1]) == want
    with pytest.raises(IndexError, match=r"^class 8 is not in this dataset \(its classes are 5\.\.7\)$"):
        stored.class_params(8)
    with pytest.raises(IndexError, match=r"^class 4 is not in this dataset"):
        stored.class_params(4)
    with pytest.raises(TypeError):
        stored.class_params(True)
    preset = VisualAtomDataset.preset("visualatom-1k", seed=0, output="numpy")
    drawn = vatom_fast.RenderSpec.preset("visualatom-1k", seed=0, classes=18).drawn_class_params()
    got = preset.class_params(17)
    assert got == vatom_fast.render.class_params_by_name(drawn[17], 17)
    assert got["class"] == 17 and 200 <= got["vertices"] <= 1000 and 1 <= got["orbits"] <= 200
    assert preset.manifest["classParams"][17] == got
