"""The format's rules that its JSON Schema cannot state, and the limits read from the schema.

lib/format.ts implements the same rules for Node; the shared verdict corpus (test/hostile.test.ts,
which runs both on the same manifests, and test/python/test_format.py) is their definition.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from . import schema

_DEFINITIONS = schema.schema()["definitions"]
_MANIFEST = _DEFINITIONS["manifest"]["properties"]

FORMAT_NAME: str = _DEFINITIONS["identity"]["properties"]["format"]["const"]
# The version a new manifest is written with, and the versions read: 1 is VisualAtom before families
# (no "family", no config.radiusSpan: a radius span of 50 at any image size).
READABLE_VERSIONS: Tuple[int, ...] = tuple(_DEFINITIONS["identity"]["properties"]["version"]["enum"])
FORMAT_VERSION: int = max(READABLE_VERSIONS)
FAMILIES: Tuple[str, ...] = tuple(_DEFINITIONS["identity"]["properties"]["family"]["enum"])
VERSION_1_RADIUS_SPAN = 50
MANIFEST_NAME = "manifest.json"
IMAGES_DATA_OFFSET: int = _MANIFEST["imagesDataOffset"]["const"]
MAX_SHARDS: int = _MANIFEST["shards"]["maxItems"]
MAX_THREADS: int = _DEFINITIONS["threads"]["maximum"]
MAX_REFERENCE_INSTANCES: int = _DEFINITIONS["referenceInstances"]["maximum"]
# Not in the schema (no field holds them): a labels shard's header length, a format file's size bound.
LABELS_DATA_OFFSET = 128
MAX_JSON_BYTES = 512 << 20

STREAMS = {
    ("visualatom", "philox"): "philox4x32-10/format-1",
    ("visualatom", "reference"): "cpython-mt19937/render_VisualAtom.py",
    ("rcdb", "philox"): "philox4x32-10/rcdb-1",
    ("rcdb", "reference"): "cpython-mt19937/make_rcdb.py",
}
# Class parameters only RCDB draws (the first instance's centre).
RCDB_ONLY_PARAMS = ("centreY", "centreX")


def family_of(m: Dict[str, Any]) -> str:
    """The generator family of a checked manifest (version 1 manifests are VisualAtom)."""
    return m.get("family", "visualatom")


def shard_names(index: int) -> Tuple[str, str]:
    """The images and labels file names of shard ``index``: the only names a shard may have."""
    return f"images-{index:05d}.npy", f"labels-{index:05d}.npy"


def shard_file_bytes(image_size: int, count: int) -> Tuple[int, int]:
    """Bytes of an images shard and of a labels shard of ``count`` images of S x S."""
    return IMAGES_DATA_OFFSET + count * image_size * image_size, LABELS_DATA_OFFSET + 4 * count


def worker_shard_range(shards: int, index: int, count: int) -> Tuple[int, int]:
    """Shards [begin, end) of the layout that cluster worker ``index`` of ``count`` writes."""
    return (index * shards) // count, ((index + 1) * shards) // count


def produced_classes(requested: int, rng: str, reference_threads: int) -> int:
    """Classes a build makes: the reference drops the last ``requested % reference_threads``."""
    return requested if rng == "philox" else requested // reference_threads * reference_threads


def _version_problem(m: Dict[str, Any]) -> Optional[str]:
    c = m["config"]
    if m["version"] == 1:
        if "family" in m or "radiusSpan" in c:
            return "a version 1 manifest has no family and no config.radiusSpan"
        return None
    if "family" not in m:
        return f"family is missing (version {m['version']})"
    if "radiusSpan" not in c:
        return f"config.radiusSpan is missing (version {m['version']})"
    if m["family"] == "rcdb" and any(c[k] != 0 for k in ("freq1Min", "freq1Max", "freq2Min", "freq2Max")):
        return "config.freq1Min..freq2Max must be 0 for family rcdb (RCDB has no frequencies)"
    return None


def _identity_problem(m: Dict[str, Any]) -> Optional[str]:
    c = m["config"]
    version = _version_problem(m)
    if version:
        return version
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
    if not philox and m["instances"] > MAX_REFERENCE_INSTANCES:
        return (f"instances {m['instances']} is more than the {MAX_REFERENCE_INSTANCES} the reference stream allows "
                "(it replays a class from its start to reach an image)")
    if m["stream"] != STREAMS[(family_of(m), m["rng"])]:
        return f"stream {m['stream']} is not that of rng {m['rng']} and family {family_of(m)}"
    if philox != m["seed"].isdigit():
        return f"seed {m['seed']!r} is not that of rng {m['rng']}"
    if philox != ("referenceThreads" not in m):
        return f"referenceThreads is {'set' if philox else 'missing'} with rng {m['rng']}"
    if philox and int(m["seed"]) >= 2 ** 64:
        return f"seed {m['seed']} is not below 2^64"
    produced = produced_classes(m["requestedClasses"], m["rng"], m.get("referenceThreads", 1))
    if m["classes"] != produced:
        return f"classes {m['classes']} is not what requestedClasses {m['requestedClasses']} makes with rng {m['rng']} ({produced})"
    return None


def _class_params_problem(m: Dict[str, Any]) -> Optional[str]:
    c, params = m["config"], m["classParams"]
    rcdb = family_of(m) == "rcdb"
    if len(params) != m["classes"]:
        return f"classParams lists {len(params)} classes, classes is {m['classes']}"
    for i, p in enumerate(params):
        if p["class"] != m["startClass"] + i:
            return f"classParams[{i}].class is {p['class']}, expected {m['startClass'] + i}"
        if not c["verticesMin"] <= p["vertices"] <= c["verticesMax"]:
            return f"classParams[{i}].vertices {p['vertices']} is outside config {c['verticesMin']}:{c['verticesMax']}"
        if not c["orbitsMin"] <= p["orbits"] <= c["orbitsMax"]:
            return f"classParams[{i}].orbits {p['orbits']} is outside config {c['orbitsMin']}:{c['orbitsMax']}"
        for key in RCDB_ONLY_PARAMS:
            if (key in p) != rcdb:
                return f"classParams[{i}].{key} is {'missing' if rcdb else 'set'} with family {family_of(m)}"
    return None


def _shard_problem(m: Dict[str, Any], k: int, g: int) -> Optional[str]:
    """What is wrong with entry ``k`` of the shard list, which holds shard ``g`` of the layout."""
    sh, size, S = m["shards"][k], m["shardSize"], m["imageSize"]
    images, labels = shard_names(g)
    if sh["images"] != images or sh["labels"] != labels:
        return (f"shard {k} names {sh['images']!r} and {sh['labels']!r}; shard {g} is {images} and {labels} "
                "(swapped or duplicated entries are refused)")
    first = g * size
    count = min(size, m["imageCount"] - first)
    if sh["first"] != first or sh["count"] != count:
        return f"counts do not add up: shard {k} holds images {sh['first']} + {sh['count']}; shard {g} holds {first} + {count}"
    recorded = [sh[key] for key in ("imagesBytes", "labelsBytes", "imagesSha256", "labelsSha256")]
    written = sum(v is not None for v in recorded)
    if written not in (0, 4):
        return f"shard {k} records some sizes and checksums but not all"
    if written == 0 and m["complete"]:
        return f"complete is true but shard {k} is not recorded as written"
    sizes = shard_file_bytes(S, count)
    if written == 4 and (sh["imagesBytes"], sh["labelsBytes"]) != sizes:
        return (f"shard {k} records {sh['imagesBytes']} and {sh['labelsBytes']} bytes; {count} images of {S}x{S} take "
                f"{sizes[0]} and {sizes[1]}")
    return None


def _layout_problem(m: Dict[str, Any]) -> Optional[str]:
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
        first_shard, end_shard = worker_shard_range(layout, part["index"], part["count"])
        if (part["firstShard"], part["endShard"]) != (first_shard, end_shard):
            return f"part covers shards {part['firstShard']}..{part['endShard'] - 1}, worker {part['index']} of {part['count']} writes {first_shard}..{end_shard - 1}"
    if len(m["shards"]) != end_shard - first_shard:
        return f"lists {len(m['shards'])} shards, expected {end_shard - first_shard}"
    for k in range(len(m["shards"])):
        problem = _shard_problem(m, k, first_shard + k)
        if problem:
            return problem
    return None


def manifest_problem(m: Dict[str, Any]) -> Optional[str]:
    """What is wrong with a manifest that passed the schema, or None."""
    return _identity_problem(m) or _class_params_problem(m) or _layout_problem(m)
