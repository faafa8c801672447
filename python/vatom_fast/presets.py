"""The paper's presets with every generator option of ``vatom-fast build``: the dataset a build with
the same preset, seed and options writes, as a render spec, with no file on disk.

Options are checked as the CLI checks them (same bounds, read from the format's schema, and the same
pixel defaults carried to the image size) and refused naming the option, the value and what is
allowed.
"""

from __future__ import annotations

import json
import math
import operator
import os
import re
from typing import Any, Dict, Optional, Tuple

import numpy as np

from . import rules, schema

PRESETS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "format", "presets.json")

# The generator options of `vatom-fast build`, in Python spelling.
GENERATOR_OPTIONS = (
    "image_size", "rng", "reference_threads", "vertices", "orbits", "noise_min", "line_width", "radius_min",
    "oval_rate", "start_pos", "freq1", "freq2", "classes", "instances", "start_class",
)
# Options of one family only (the CLI's lib/generators/*.ts parameter tables say the same).
FAMILY_ONLY = {"freq1": "visualatom", "freq2": "visualatom"}
# make_rcdb.py draws randint(line_num_min, line_num_min + 199) lines.
RCDB_LINE_SPAN = 199
_RANGES = {"vertices": "vertices", "orbits": "orbits", "freq1": "freq1", "freq2": "freq2"}
_INTEGERS = {"image_size": "imageSize", "radius_min": "radiusMin", "start_pos": "startPos"}
_REALS = {"noise_min": "noiseMin", "line_width": "lineWidth", "oval_rate": "ovalRate"}
# The parameters measured in pixels, carried to the image size when not given (as lib/config.ts
# scaledToImageSize does, on the default stream only): config key -> option.
PIXEL_VALUED = {"startPos": "start_pos", "radiusMin": "radius_min", "lineWidth": "line_width", "noiseMin": "noise_min",
                "radiusSpan": None}
_ROUNDED = ("startPos", "radiusMin", "radiusSpan")

_IDENTITY = schema.schema()["definitions"]["identity"]["properties"]
_CONFIG = schema.schema()["definitions"]["generatorConfig"]["properties"]
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")


def load_presets() -> Dict[str, Any]:
    with open(PRESETS_PATH, encoding="utf8") as f:
        return json.load(f)


def preset_names() -> Tuple[str, ...]:
    return tuple(load_presets()["presets"])


def _bad(option: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"invalid value for {option}: {value!r}; expected {allowed}")


def _integer(option: str, value: Any, low: int, high: int, allowed: Optional[str] = None) -> int:
    what = allowed or f"an integer from {low} to {high}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _bad(option, value, what)
    n = operator.index(value)
    if not low <= n <= high:
        raise _bad(option, value, what)
    return n


def _real(option: str, value: Any, low: float, high: float) -> float:
    what = f"a number from {low} to {high}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _bad(option, value, what)
    x = float(value)
    if not (math.isfinite(x) and low <= x <= high):
        raise _bad(option, value, what)
    return x


def _range(option: str, value: Any, low: int, high: int) -> Tuple[int, int]:
    """``(MIN, MAX)``, ``N`` (= ``N:N``) or the CLI's text ``"MIN:MAX"``, with low <= MIN <= MAX <= high."""
    what = f"(MIN, MAX), N or \"MIN:MAX\", integers with {low} <= MIN <= MAX <= {high}"
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) > 2 or not all(_INTEGER_TEXT.match(p.strip()) for p in parts):
            raise _bad(option, value, what)
        pair = [int(p) for p in parts]
    elif isinstance(value, (tuple, list)):
        pair = list(value)
    else:
        pair = [value]
    if len(pair) == 1:
        pair = pair * 2
    if len(pair) != 2 or any(isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)) for x in pair):
        raise _bad(option, value, what)
    lo, hi = operator.index(pair[0]), operator.index(pair[1])
    if lo > hi:
        raise _bad(option, value, f"{what} (MIN {lo} is greater than MAX {hi})")
    if lo < low or hi > high:
        raise _bad(option, value, what)
    return lo, hi


def js_round(x: float) -> int:
    """JavaScript's Math.round: the nearest integer, halves up (Python's round() halves to even)."""
    r = math.floor(x)
    return int(r) + 1 if x - r >= 0.5 else int(r)


def scaled_to_image_size(base: Dict[str, Any], image_size: int) -> Dict[str, Any]:
    """The pixel-valued parameters of ``base`` carried to ``image_size`` in proportion, as the CLI does."""
    if image_size == base["imageSize"]:
        return {key: base[key] for key in PIXEL_VALUED if key in base}
    out = {}
    for key in PIXEL_VALUED:
        if key not in base:
            continue
        scaled = (base[key] * image_size) / base["imageSize"]
        out[key] = js_round(scaled) if key in _ROUNDED else scaled
    return out


def _config(base: Dict[str, Any], given: Dict[str, Any], philox: bool) -> Dict[str, Any]:
    config = dict(base)
    for option, key in _INTEGERS.items():
        if option in given:
            config[key] = _integer(option, given[option], _CONFIG[key]["minimum"], _CONFIG[key]["maximum"])
    for option, key in _REALS.items():
        if option in given:
            config[key] = _real(option, given[option], _CONFIG[key]["minimum"], _CONFIG[key]["maximum"])
    for option, stem in _RANGES.items():
        if option in given:
            low, high = _CONFIG[stem + "Min"]["minimum"], _CONFIG[stem + "Max"]["maximum"]
            config[stem + "Min"], config[stem + "Max"] = _range(option, given[option], low, high)
    lo1, hi1, n2 = config["freq1Min"], config["freq1Max"], config["freq2Min"]
    if n2 == config["freq2Max"] and n2 != 0 and lo1 <= n2 <= hi1:
        raise _bad("freq2", given.get("freq2", n2),
                   f"a range that can draw a value other than n1: freq2 {n2} alone never differs from an n1 of {n2}, "
                   f"which freq1 {lo1}:{hi1} can draw (the redraw of n2 would never end)")
    if philox:
        scaled = scaled_to_image_size(base, config["imageSize"])
        for key, option in PIXEL_VALUED.items():
            if key in scaled and option not in given:
                config[key] = scaled[key]
    return config


def _rcdb_reference_problem(c: Dict[str, Any]) -> Optional[Tuple[str, Any, str]]:
    """What make_rcdb.py cannot take: its integer arguments, its fixed spans, an odd image size."""
    if c["verticesMin"] != 3:
        return "vertices", (c["verticesMin"], c["verticesMax"]), \
            "(3, N) with rng 'reference' (the script keeps V = int(expovariate(1/100)) within 3..vertex_num)"
    if c["orbitsMax"] != c["orbitsMin"] + RCDB_LINE_SPAN:
        return "orbits", (c["orbitsMin"], c["orbitsMax"]), \
            f"(A, A + {RCDB_LINE_SPAN}) with rng 'reference' (the script draws randint(line_num_min, line_num_min + {RCDB_LINE_SPAN}))"
    if c["imageSize"] % 2 != 0:
        return "image_size", c["imageSize"], "an even size with rng 'reference' (the script's randint(0, image_size / 2) fails on an odd one)"
    for key, option in (("noiseMin", "noise_min"), ("ovalRate", "oval_rate")):
        if c[key] != int(c[key]):
            return option, c[key], f"an integer with rng 'reference' (the script's argument is an int)"
    return None


def preset_spec(name: str, seed: Optional[int] = None, **options: Any) -> Dict[str, Any]:
    """The fields of a render spec for preset ``name`` with ``seed`` and generator ``options``
    (see GENERATOR_OPTIONS), checked as ``vatom-fast build`` checks them."""
    unknown = sorted(set(options) - set(GENERATOR_OPTIONS))
    if unknown:
        raise TypeError(f"unknown generator option {', '.join(map(repr, unknown))}; "
                        f"the options are {', '.join(GENERATOR_OPTIONS)}")
    presets = load_presets()
    if not isinstance(name, str) or name not in presets["presets"]:
        raise _bad("preset", name, f"one of {', '.join(sorted(presets['presets']))}")
    p = presets["presets"][name]
    family = p.get("family", "visualatom")
    for option in sorted(set(options) & set(FAMILY_ONLY)):
        if FAMILY_ONLY[option] != family:
            raise _bad(option, options[option], f"no {option} with the {family} family (preset {name}): "
                       f"it is a parameter of {FAMILY_ONLY[option]} only")
    base = presets["configs"][p["config"]]
    rng = options.get("rng", "philox")
    rngs = sorted({r for _, r in rules.STREAMS})
    if rng not in rngs:
        raise _bad("rng", rng, f"one of {', '.join(rngs)}")
    philox = rng == "philox"
    if not philox and seed is not None:
        raise _bad("seed", seed, "no seed with rng 'reference' (the reference seeds process t with t + 1)")
    seed = _integer("seed", 0 if seed is None else seed, 0, 2 ** 64 - 1, "an integer from 0 to 2^64 - 1")
    class_limit = _IDENTITY["requestedClasses"]["maximum"]
    start_class = _integer("start_class", options.get("start_class", 0), 0, class_limit - 1)
    classes = _integer("classes", options.get("classes", p["classes"]), 1, _IDENTITY["classes"]["maximum"])
    if start_class + classes > class_limit:
        raise _bad("classes", classes, f"an integer >= 1 with start_class + classes <= {class_limit}")
    instances_max = _IDENTITY["instances"]["maximum"] if philox else rules.MAX_REFERENCE_INSTANCES
    instances = _integer("instances", options.get("instances", p["instances"]), 1, instances_max,
                         None if philox else f"an integer from 1 to {instances_max} with rng 'reference' "
                         "(it replays a class from its start to reach an image)")
    if classes * instances > schema.schema()["definitions"]["positive"]["maximum"]:
        raise _bad("instances", instances, "a count with classes x instances below 2^53")
    reference_threads = 1 if philox else p.get("referenceThreads", 1)
    if "reference_threads" in options:
        if philox:
            raise _bad("reference_threads", options["reference_threads"], "no reference_threads without rng 'reference'")
        reference_threads = _integer("reference_threads", options["reference_threads"], 1, rules.MAX_THREADS)
        if reference_threads > classes:
            raise _bad("reference_threads", reference_threads,
                       f"at most classes ({classes}): the reference gives each process floor(classes / processes) classes")
    config = _config(base, options, philox)
    problem = None if philox or family != "rcdb" else _rcdb_reference_problem(config)
    if problem is not None:
        raise _bad(*problem)
    return dict(
        config=config, stream=rng, seed=seed if philox else 0, start_class=start_class,
        classes=rules.produced_classes(classes, rng, reference_threads), instances=instances,
        reference_threads=reference_threads, preset_name=name, family=family,
        preset_options={"seed": seed if philox else None, **{k: _plain(options[k]) for k in GENERATOR_OPTIONS if k in options}},
    )


def _plain(value: Any) -> Any:
    """An option's value as JSON can record it."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
