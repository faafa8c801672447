"""The format's JSON Schema (``format/manifest.schema.json``, the one definition the CLI checks with
ajv), interpreted here with nothing but the standard library.

Only the keywords the schema uses are understood: ``$ref`` (local), ``definitions``, ``type``,
``const``, ``enum``, ``minimum``, ``maximum``, ``pattern``, ``items``, ``maxItems``, ``properties``,
``required``, ``additionalProperties`` (false). A schema
with any other keyword is refused when loaded, so the two readers cannot silently drift apart.
Recursion follows the schema, never the data, so a deeply nested document cannot exhaust the stack.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, Optional

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "format", "manifest.schema.json")

_ANNOTATIONS = {"$schema", "$id", "title", "description", "definitions"}
_KEYWORDS = {
    "$ref", "type", "const", "enum", "minimum", "maximum", "pattern", "items", "maxItems", "properties",
    "required", "additionalProperties",
}

_schema: Optional[Dict[str, Any]] = None
_patterns: Dict[str, "re.Pattern[str]"] = {}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _number(text: str) -> Any:
    # JSON has one number type: 32.0 is the integer 32, as JavaScript reads it.
    x = float(text)
    return int(x) if x.is_integer() else x


def loads(text: str) -> Any:
    """JSON text as JavaScript's JSON.parse reads it: ``NaN`` and ``Infinity`` are refused (a
    ``ValueError``), and a number with an integral value is an ``int`` whatever its spelling."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_number)


def _check_keywords(node: Any, where: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "definitions"):
                for name, sub in value.items():
                    _check_keywords(sub, f"{where}/{key}/{name}")
            elif key not in _KEYWORDS and key not in _ANNOTATIONS:
                raise RuntimeError(f"{SCHEMA_PATH}: keyword {key!r} at {where} is not understood by vatom_fast.schema")
            elif key == "items":
                _check_keywords(value, f"{where}/items")


def schema() -> Dict[str, Any]:
    """The schema, loaded once (its keywords checked against what this module interprets)."""
    global _schema
    if _schema is None:
        with open(SCHEMA_PATH, "r", encoding="utf8") as f:
            s = json.load(f)
        _check_keywords(s, "#")
        _schema = s
    return _schema


def _resolve(ref: str) -> Dict[str, Any]:
    if not ref.startswith("#/"):
        raise RuntimeError(f"{SCHEMA_PATH}: only local $ref are supported, got {ref!r}")
    node: Any = schema()
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _pattern(p: str) -> "re.Pattern[str]":
    compiled = _patterns.get(p)
    if compiled is None:
        # ECMA-262 `$` (no multiline flag) matches only at the very end; Python's also before a final newline.
        compiled = re.compile(re.sub(r"(?<!\\)\$", r"\\Z", p))
        _patterns[p] = compiled
    return compiled


def _type_ok(value: Any, t: str) -> bool:
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise RuntimeError(f"{SCHEMA_PATH}: unknown type {t!r}")


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def shown(value: Any) -> str:
    """A value for a message: scalars as JSON (at most 80 characters), containers by kind."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _validate(value: Any, node: Dict[str, Any], path: str) -> Optional[str]:
    if "$ref" in node:
        return _validate(value, _resolve(node["$ref"]), path)
    where = f"{path or 'the top level'} ({shown(value)})"
    if "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not any(_type_ok(value, t) for t in types):
            return f"{where} must be {' or '.join(types)}"
    if "const" in node and not _json_equal(value, node["const"]):
        return f"{where} must be {json.dumps(node['const'])}"
    if "enum" in node and not any(_json_equal(value, e) for e in node["enum"]):
        return f"{where} must be one of {', '.join(json.dumps(e) for e in node['enum'])}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            return f"{where} must be >= {node['minimum']}"
        if "maximum" in node and value > node["maximum"]:
            return f"{where} must be <= {node['maximum']}"
    if isinstance(value, str) and "pattern" in node and not _pattern(node["pattern"]).search(value):
        return f'{where} must match pattern "{node["pattern"]}"'
    if isinstance(value, list):
        if "maxItems" in node and len(value) > node["maxItems"]:
            return f"{where} must NOT have more than {node['maxItems']} items"
        if "items" in node:
            for i, item in enumerate(value):
                problem = _validate(item, node["items"], f"{path}/{i}")
                if problem:
                    return problem
    if isinstance(value, dict):
        for key in node.get("required", ()):
            if key not in value:
                return f"{path or 'the top level'} must have required property '{key}'"
        props = node.get("properties", {})
        if node.get("additionalProperties", True) is False:
            for key in value:
                if key not in props:
                    return f"{path or 'the top level'} has an unknown field {shown(key)}"
        for key, sub in props.items():
            if key in value:
                problem = _validate(value[key], sub, f"{path}/{key}")
                if problem:
                    return problem
    return None


def validate(value: Any, definition: str = "manifest") -> Optional[str]:
    """The first way ``value`` breaks ``definitions/<definition>`` of the schema (a JSON-pointer path
    and what is wrong, worded as ajv words it), or None if it conforms."""
    return _validate(value, _resolve(f"#/definitions/{definition}"), "")
