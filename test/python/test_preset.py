"""``VisualAtomDataset.preset(name, seed=..., **options)`` takes every generator option of `vatom-fast
build`, refuses a bad one naming the option, the value and what is allowed, and renders the bytes a
CLI build with the same options stores (pixel defaults carried to the image size as the CLI does)."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest

from conftest import REPO, cli_build, require_library

import vatom_fast
from vatom_fast import VisualAtomDataset, presets

RANGE = '(MIN, MAX), N or "MIN:MAX", integers with'


@pytest.mark.parametrize("options, message", [
    (dict(image_size=15), "invalid value for image_size: 15; expected an integer from 16 to 8192"),
    (dict(image_size=64.0), "invalid value for image_size: 64.0; expected an integer from 16 to 8192"),
    (dict(image_size=True), "invalid value for image_size: True; expected an integer from 16 to 8192"),
    (dict(image_size="64"), "invalid value for image_size: '64'; expected an integer from 16 to 8192"),
    (dict(vertices=(2, 10)), f"invalid value for vertices: (2, 10); expected {RANGE} 3 <= MIN <= MAX <= 100000"),
    (dict(vertices=(60, 20)), f"invalid value for vertices: (60, 20); expected {RANGE} 3 <= MIN <= MAX <= 100000 "
                              "(MIN 60 is greater than MAX 20)"),
    (dict(vertices="20:x"), f"invalid value for vertices: '20:x'; expected {RANGE} 3 <= MIN <= MAX <= 100000"),
    (dict(vertices=(20, 30, 40)), f"invalid value for vertices: (20, 30, 40); expected {RANGE}"),
    (dict(vertices=(20.0, 30)), f"invalid value for vertices: (20.0, 30); expected {RANGE}"),
    (dict(orbits=0), f"invalid value for orbits: 0; expected {RANGE} 1 <= MIN <= MAX <= 100000"),
    (dict(freq1=(0, 2_000_000)), f"invalid value for freq1: (0, 2000000); expected {RANGE} 0 <= MIN <= MAX <= 1000000"),
    (dict(noise_min=-1), "invalid value for noise_min: -1; expected a number from 0 to 1000000"),
    (dict(line_width=float("nan")), "invalid value for line_width: nan; expected a number from 0 to 1000000"),
    (dict(line_width=float("inf")), "invalid value for line_width: inf; expected a number from 0 to 1000000"),
    (dict(line_width="0.5"), "invalid value for line_width: '0.5'; expected a number from 0 to 1000000"),
    (dict(oval_rate=0.5), "invalid value for oval_rate: 0.5; expected a number from 1 to 1000000"),
    (dict(radius_min=-1), "invalid value for radius_min: -1; expected an integer from 0 to 1000000"),
    (dict(start_pos=10 ** 7), "invalid value for start_pos: 10000000; expected an integer from 0 to 1000000"),
    (dict(freq1=(0, 5), freq2=3), "invalid value for freq2: 3; expected a range that can draw a value other than n1: "
                                  "freq2 3 alone never differs from an n1 of 3, which freq1 0:5 can draw"),
    (dict(rng="mt19937"), "invalid value for rng: 'mt19937'; expected one of philox, reference"),
    (dict(reference_threads=2), "invalid value for reference_threads: 2; expected no reference_threads without rng 'reference'"),
    (dict(rng="reference", classes=4, reference_threads=5),
     "invalid value for reference_threads: 5; expected at most classes (4)"),
    (dict(rng="reference", reference_threads=1025), "invalid value for reference_threads: 1025; expected an integer from 1 to 1024"),
    (dict(classes=0), "invalid value for classes: 0; expected an integer from 1 to 1000000"),
    (dict(classes=1_000_001), "invalid value for classes: 1000001; expected an integer from 1 to 1000000"),
    (dict(start_class=2 ** 32 - 1, classes=2),
     "invalid value for classes: 2; expected an integer >= 1 with start_class + classes <= 4294967296"),
    (dict(start_class=-1), "invalid value for start_class: -1; expected an integer from 0 to 4294967295"),
    (dict(instances=0), "invalid value for instances: 0; expected an integer from 1 to 4294967295"),
    (dict(instances=2 ** 32), "invalid value for instances: 4294967296; expected an integer from 1 to 4294967295"),
])
def test_bad_generator_options_are_refused_naming_option_value_and_what_is_allowed(options, message):
    with pytest.raises(ValueError) as e:
        VisualAtomDataset.preset("visualatom-1k", **options)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("seed, message", [
    (-1, "invalid value for seed: -1; expected an integer from 0 to 2^64 - 1"),
    (2 ** 64, "invalid value for seed: 18446744073709551616; expected an integer from 0 to 2^64 - 1"),
    ("0", "invalid value for seed: '0'; expected an integer from 0 to 2^64 - 1"),
])
def test_bad_seed(seed, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        VisualAtomDataset.preset("visualatom-1k", seed=seed)


def test_a_seed_with_the_reference_stream_and_an_unknown_preset_are_refused():
    with pytest.raises(ValueError, match=r"^invalid value for seed: 3; expected no seed with rng 'reference'"):
        VisualAtomDataset.preset("visualatom-1k", seed=3, rng="reference")
    with pytest.raises(ValueError, match=r"^invalid value for preset: 'visualatom-2k'; expected one of rcdb-1k, rcdb-21k, "
                                         r"visualatom-1k, visualatom-21k$"):
        VisualAtomDataset.preset("visualatom-2k")


def test_unknown_options_are_refused_by_name():
    with pytest.raises(TypeError, match=r"^unknown option 'chanels', 'lineWidth', 'verts'; preset\(\) takes the "
                                        r"generator options image_size, rng, reference_threads, vertices, orbits, .*, "
                                        r"start_class and the dataset options transform, .*, threads$"):
        VisualAtomDataset.preset("visualatom-1k", verts=(3, 4), lineWidth=0.5, chanels=1, channels=1)
    with pytest.raises(TypeError, match=r"^unknown generator option 'verts'; the options are image_size, rng"):
        vatom_fast.RenderSpec.preset("visualatom-1k", verts=(3, 4))


def test_pixel_valued_parameters_are_the_clis():
    r = subprocess.run(["node", "-e", "const c = require(process.argv[1]); console.log(JSON.stringify(c.PIXEL_VALUED))",
                        str(REPO / "dist" / "generators" / "visualatom.js")], capture_output=True, text=True, check=True)
    assert sorted(json.loads(r.stdout)) == sorted(presets.PIXEL_VALUED)


def test_js_round_halves_up():
    assert [presets.js_round(x) for x in (2.5, 3.5, -2.5, 0.49999999999999994, 1.25, 1.953125)] == [3, 4, -2, 0, 1, 2]


# name -> (CLI arguments, the same as preset() options). Pixel defaults scaled (64 px; 128 px, where
# the minimum radius scales to exactly 2.5; 100 px of the 21k preset), every option given, and the
# reference stream with two processes (which keeps the script's pixel values).
SAME = {
    "scaled-64": (["--image-size", "64", "--classes", "3", "--instances", "2", "--seed", "7"],
                  dict(image_size=64, classes=3, instances=2, seed=7)),
    "scaled-128-half": (["--image-size", "128", "--classes", "2", "--instances", "2", "--seed", "1"],
                        dict(image_size=128, classes=2, instances=2, seed=1)),
    "21k-100": (["--preset", "visualatom-21k", "--image-size", "100", "--classes", "2", "--instances", "2",
                 "--start-class", "20998", "--seed", "18446744073709551615"],
                dict(image_size=100, classes=2, instances=2, start_class=20998, seed=2 ** 64 - 1)),
    "every-option": (["--image-size", "48", "--vertices", "20:60", "--orbits", "1:12", "--start-pos", "40",
                      "--radius-min", "3", "--line-width", "0.5", "--noise-min", "0.25", "--oval-rate", "1.5",
                      "--freq1", "2:9", "--freq2", "0:4", "--classes", "2", "--instances", "3", "--start-class", "7",
                      "--seed", "123"],
                     dict(image_size=48, vertices=(20, 60), orbits="1:12", start_pos=40, radius_min=3, line_width=0.5,
                          noise_min=0.25, oval_rate=1.5, freq1=(2, 9), freq2=[0, 4], classes=2, instances=3,
                          start_class=7, seed=123)),
    "reference-2": (["--rng", "reference", "--reference-threads", "2", "--classes", "5", "--instances", "2",
                     "--image-size", "40", "--vertices", "20:60", "--orbits", "1:12", "--start-pos", "40",
                     "--radius-min", "2"],
                    dict(rng="reference", reference_threads=2, classes=5, instances=2, image_size=40,
                         vertices=(20, 60), orbits=(1, 12), start_pos=40, radius_min=2)),
    "rcdb-scaled-64": (["--preset", "rcdb-1k", "--image-size", "64", "--classes", "3", "--instances", "2", "--seed", "9"],
                       dict(image_size=64, classes=3, instances=2, seed=9)),
    "rcdb-every-option": (["--preset", "rcdb-21k", "--image-size", "48", "--vertices", "3:40", "--orbits", "2:30",
                           "--start-pos", "30", "--radius-min", "3", "--line-width", "0.5", "--noise-min", "0.25",
                           "--oval-rate", "1.5", "--classes", "2", "--instances", "2", "--start-class", "11", "--seed", "5"],
                          dict(image_size=48, vertices=(3, 40), orbits=(2, 30), start_pos=30, radius_min=3, line_width=0.5,
                               noise_min=0.25, oval_rate=1.5, classes=2, instances=2, start_class=11, seed=5)),
    "rcdb-reference-3": (["--preset", "rcdb-1k", "--rng", "reference", "--reference-threads", "3", "--classes", "7",
                          "--instances", "2", "--image-size", "64", "--vertices", "3:50", "--start-pos", "40"],
                         dict(rng="reference", reference_threads=3, classes=7, instances=2, image_size=64,
                              vertices=(3, 50), start_pos=40)),
}


@pytest.mark.parametrize("options, message", [
    (dict(freq1=(1, 2)), "invalid value for freq1: (1, 2); expected no freq1 with the rcdb family (preset rcdb-1k)"),
    (dict(freq2=0), "invalid value for freq2: 0; expected no freq2 with the rcdb family (preset rcdb-1k)"),
    (dict(rng="reference", orbits=(1, 100)), "invalid value for orbits: (1, 100); expected (A, A + 199) with rng 'reference'"),
    (dict(rng="reference", vertices=(4, 100)), "invalid value for vertices: (4, 100); expected (3, N) with rng 'reference'"),
    (dict(rng="reference", image_size=65), "invalid value for image_size: 65; expected an even size with rng 'reference'"),
    (dict(rng="reference", oval_rate=1.5), "invalid value for oval_rate: 1.5; expected an integer with rng 'reference'"),
])
def test_rcdb_options_are_the_families(options, message):
    with pytest.raises(ValueError) as e:
        VisualAtomDataset.preset("rcdb-1k", **options)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("name", list(SAME))
def test_preset_with_options_renders_the_bytes_of_a_cli_build(tmp_path, name):
    require_library()
    args, options = SAME[name][0], dict(SAME[name][1])
    preset = args[args.index("--preset") + 1] if "--preset" in args else "visualatom-1k"
    root = cli_build(tmp_path / "ds", ["--shard-size", "100", *args])
    m = json.loads((root / "manifest.json").read_text())
    want = np.concatenate([np.load(root / s["images"]) for s in m["shards"]])
    seed = options.pop("seed", None)
    ds = VisualAtomDataset.preset(preset, seed=seed, output="numpy", channels=1, **options)
    assert ds.manifest["config"] == m["config"]
    assert ds.manifest["classParams"] == m["classParams"]
    assert (len(ds), ds.num_classes, ds.start_class) == (m["imageCount"], m["classes"], m["startClass"])
    images, labels = ds.render_batch(np.arange(len(ds)))
    assert images.tobytes() == want.tobytes()
    assert labels.tolist() == [m["startClass"] + i // m["instances"] for i in range(len(ds))]
    assert [ds[i][1] for i in range(len(ds))] == labels.tolist()
    # The dataset records what decides its bytes: the preset, the seed and the options as given.
    assert ds.manifest["preset"] == preset
    assert ds.manifest["presetOptions"] == json.loads(json.dumps({"seed": seed if "rng" not in options else None, **options}))
    if name == "scaled-128-half":
        assert m["config"]["radiusMin"] == 3  # 2.5 rounds up, as JavaScript rounds


def test_loader_options_pass_through():
    require_library()
    ds = VisualAtomDataset.preset("visualatom-1k", seed=0, image_size=32, classes=2, instances=3, output="numpy",
                                  channels=1, relative_labels=True, start_class=5, threads=2)
    assert ds[5][0].shape == (32, 32) and ds[5][1] == 1 and ds.classes == [0, 1] and ds.threads == 2
