"""The format's schema as the Python loader reads it (vatom_fast.schema): the same verdicts as ajv's
on the cases that differ between JSON Schema and a naive reading (test/hostile.test.ts compares
the two readers on many more)."""

from __future__ import annotations

import copy
import json

import pytest

from vatom_fast import DatasetError, load_manifest
from vatom_fast import schema


def test_every_keyword_of_the_schema_is_understood():
    schema._schema = None
    s = schema.schema()
    assert s["definitions"]["manifest"]["type"] == "object"


def test_unknown_keyword_is_refused(monkeypatch, tmp_path):
    bad = tmp_path / "schema.json"
    bad.write_text(json.dumps({"definitions": {"manifest": {"type": "object", "if": {}}}}))
    monkeypatch.setattr(schema, "SCHEMA_PATH", str(bad))
    monkeypatch.setattr(schema, "_schema", None)
    with pytest.raises(RuntimeError, match="keyword 'if'"):
        schema.schema()
    monkeypatch.setattr(schema, "_schema", None)


def test_json_semantics(synth):
    m = synth.manifest()
    assert schema.validate(m) is None
    cases = {
        "version": (True, "/version (true) must be one of 1, 2"),  # true is not 1 in JSON
        "complete": (1, "/complete (1) must be boolean"),
        "imageSize": (32.5, "/imageSize (32.5) must be integer"),
        "channels": (1.0, None),                                  # 1.0 is 1 in JSON (const)
    }
    for key, (value, expected) in cases.items():
        mm = copy.deepcopy(m)
        mm[key] = value
        assert schema.validate(mm) == expected, key
    # ECMA `$` is the very end: a trailing newline does not pass a pattern anchored with `$`.
    mm = copy.deepcopy(m)
    mm["shards"][0]["images"] = "images-00000.npy\n"
    assert schema.validate(mm) == '/shards/0/images ("images-00000.npy\\n") must match pattern "^images-[0-9]{5,9}\\.npy$"'


def test_deep_nesting_is_a_dataset_error(synth):
    synth.manifest_path.write_text('{"format": "vatom-fast", "config": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(DatasetError, match="manifest.json nests arrays or objects too deeply"):
        load_manifest(str(synth.root))


def test_manifest_fifo_does_not_block(synth):
    import os
    os.remove(synth.manifest_path)
    os.mkfifo(synth.manifest_path)
    with pytest.raises(DatasetError, match="manifest.json is not a regular file"):
        load_manifest(str(synth.root))


# One verdict with Node on JSON's numbers: JavaScript's JSON.parse refuses NaN and Infinity (Python's
# json accepts them) and cannot tell 32.0 from 32 (Python's json makes a float of it). The same cases
# run through ajv in test/hostile.test.ts.
NUMBER_SPELLINGS = [
    ('"imageSize": 32', '"imageSize": 32.0', "ok"),
    ('"imageSize": 32', '"imageSize": 3.2e1', "ok"),
    ('"imageSize": 32', '"imageSize": 320e-1', "ok"),
    ('"instances": 5', '"instances": 5.0', "ok"),
    ('"count": 5', '"count": 5.00', "ok"),
    ('"imageSize": 32', '"imageSize": 32.5', "refused"),
    ('"lineWidth": 0.1', '"lineWidth": NaN', "refused"),
    ('"ovalRate": 2', '"ovalRate": Infinity', "refused"),
    ('"noiseMin": 0', '"noiseMin": -Infinity', "refused"),
    ('"noiseMin": 0', '"noiseMin": 1e400', "refused"),
]


def _verdict(text: str) -> str:
    from vatom_fast import rules

    try:
        m = schema.loads(text)
    except ValueError:
        return "refused"
    return "refused" if schema.validate(m) or rules.manifest_problem(m) else "ok"


@pytest.mark.parametrize("plain, spelled, verdict", NUMBER_SPELLINGS)
def test_json_numbers_are_read_as_javascript_reads_them(synth, plain, spelled, verdict):
    text = synth.manifest_path.read_text()
    assert plain in text
    changed = text.replace(plain, spelled)
    assert _verdict(text) == "ok"
    assert _verdict(changed) == verdict
    synth.manifest_path.write_text(changed)
    if verdict == "ok":
        info = load_manifest(str(synth.root))
        assert all(type(info.manifest[k]) is int for k in ("imageSize", "instances", "classes", "imageCount"))
    else:
        with pytest.raises(DatasetError, match=r"manifest\.json"):
            load_manifest(str(synth.root))


def test_nan_and_infinity_are_not_json(synth):
    text = synth.manifest_path.read_text()
    for constant in ("NaN", "Infinity", "-Infinity"):
        synth.manifest_path.write_text(text.replace('"lineWidth": 0.1', f'"lineWidth": {constant}', 1))
        with pytest.raises(DatasetError, match=rf"^invalid vatom-fast dataset at .*: manifest\.json is not valid JSON: "
                                               rf"{constant} is not JSON$"):
            load_manifest(str(synth.root))
