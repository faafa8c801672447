"""On-the-fly rendering: a dataset's manifest (or a preset) as a native renderer spec.

The manifest is the dataset: its config, stream, seed, counts and class parameters decide every
image's bytes, so an image rendered here equals the one ``vatom-fast build`` stores. The class
parameters are drawn natively and compared with the manifest's once per dataset (in the process
that opens it); worker processes then make their renderer handles from the checked parameters.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import numpy as np

from . import native, rules

if TYPE_CHECKING:
    from .manifest import DatasetInfo


# manifest "config" key -> vatom_config field, and whether it is an integer.
_CONFIG_FIELDS = (
    ("imageSize", "image_size", True), ("verticesMin", "vertices_min", True), ("verticesMax", "vertices_max", True),
    ("orbitsMin", "orbits_min", True), ("orbitsMax", "orbits_max", True), ("noiseMin", "noise_min", False),
    ("lineWidth", "line_width", False), ("radiusMin", "radius_min", True), ("ovalRate", "oval_rate", False),
    ("startPos", "start_pos", True), ("freq1Min", "freq1_min", True), ("freq1Max", "freq1_max", True),
    ("freq2Min", "freq2_min", True), ("freq2Max", "freq2_max", True),
)
_FAMILY_CODES = {"visualatom": native.FAMILY_VISUALATOM, "rcdb": native.FAMILY_RCDB}
# manifest "classParams" key -> vatom_class_params field.
_PARAM_FIELDS = (
    ("vertices", "vertices", True), ("orbits", "orbits", True), ("radius", "radius", True),
    ("freq1", "freq1", True), ("freq2", "freq2", True), ("noise", "noise", False),
    ("lineWidth", "line_width", False), ("ovalX", "oval_x", False), ("ovalY", "oval_y", False),
    ("centreY", "centre_y", False), ("centreX", "centre_x", False),  # rules.RCDB_ONLY_PARAMS
)
_INT32 = (-(2**31), 2**31 - 1)


class SpecError(ValueError):
    """A manifest or preset that cannot be rendered; the message names the field."""


def _number(where: str, v: Any, integer: bool) -> Any:
    if integer:
        if type(v) is not int or not _INT32[0] <= v <= _INT32[1]:
            raise SpecError(f"{where} is {v!r}, expected a 32-bit integer")
        return v
    if type(v) not in (int, float):
        raise SpecError(f"{where} is {v!r}, expected a number")
    return float(v)


@dataclass
class RenderSpec:
    """Everything that decides a dataset's images, in the form the native library takes.

    Picklable (DataLoader workers under spawn get a copy); the native handle is made from it in each
    process.
    """

    config: Dict[str, Any]  # manifest "config" keys (camelCase)
    stream: str  # "philox" or "reference"
    seed: int
    start_class: int
    classes: int
    instances: int
    reference_threads: int = 1
    class_params: Optional[np.ndarray] = field(default=None, repr=False)  # native.CLASS_PARAMS_DTYPE
    preset_name: Optional[str] = None  # the preset it was made from, if any, and its options
    preset_options: Optional[Dict[str, Any]] = None
    family: str = "visualatom"  # the generator family (rules.FAMILIES)

    @property
    def image_size(self) -> int:
        return int(self.config["imageSize"])

    @property
    def image_count(self) -> int:
        return self.classes * self.instances

    def native_spec(self) -> "native.Spec":
        c = native.Config()
        for key, name, integer in _CONFIG_FIELDS:
            if key not in self.config:
                raise SpecError(f"config.{key} is missing")
            setattr(c, name, _number(f"config.{key}", self.config[key], integer))
        c.radius_span = _number("config.radiusSpan", self.config.get("radiusSpan", rules.VERSION_1_RADIUS_SPAN), True)
        if self.family not in _FAMILY_CODES:
            raise SpecError(f'family is {self.family!r}, expected one of {", ".join(rules.FAMILIES)}')
        c.family = _FAMILY_CODES[self.family]
        stream = {"philox": native.STREAM_PHILOX, "reference": native.STREAM_REFERENCE}.get(self.stream)
        if stream is None:
            raise SpecError(f'rng is {self.stream!r}, expected "philox" or "reference"')
        return native.make_spec(
            c, stream, self.seed, self.start_class, self.classes, self.instances,
            self.reference_threads, self.class_params,
        )

    def dataset_info(self) -> "DatasetInfo":
        """The spec as a manifest-only dataset (no shards); its manifest records what decides the bytes."""
        from .manifest import DatasetInfo

        # A VisualAtom config without a radius span is one of version 1, which fixed it at 50.
        version = rules.FORMAT_VERSION if self.family != "visualatom" or "radiusSpan" in self.config else 1
        manifest: Dict[str, Any] = {
            "format": rules.FORMAT_NAME, "version": version, "complete": True, "storage": "manifest",
            **({"family": self.family} if version > 1 else {}),
            "rng": self.stream, "stream": rules.STREAMS.get((self.family, self.stream), self.stream),
            "seed": str(self.seed) if self.stream == "philox" else "per process: t + 1",
            "config": dict(self.config), "imageSize": self.image_size,
            "startClass": self.start_class, "classes": self.classes, "instances": self.instances,
            "imageCount": self.image_count, "shards": [],
        }
        if self.stream != "philox":
            manifest["referenceThreads"] = self.reference_threads
        if self.preset_name is not None:
            manifest["preset"] = self.preset_name
            manifest["presetOptions"] = dict(self.preset_options or {})
        if self.class_params is not None:
            manifest["classParams"] = [class_params_by_name(p, self.start_class + i, self.family)
                                       for i, p in enumerate(self.class_params)]
        root = f"<preset {self.preset_name} seed {self.seed}>" if self.preset_name is not None else "<rendered>"
        return DatasetInfo(root=root, manifest=manifest, image_size=self.image_size, classes=self.classes,
                           instances=self.instances, start_class=self.start_class, image_count=self.image_count, shards=())

    def drawn_class_params(self) -> np.ndarray:
        """The class parameters the config, stream and seed draw (the reference stream replays the
        draws of every image before each class: a few percent of rendering the dataset)."""
        return native.draw_class_params(self.native_spec())

    # ---------------------------------------------------------------- constructors

    @classmethod
    def from_manifest(cls, m: Dict[str, Any]) -> "RenderSpec":
        """The spec of a manifest that :func:`vatom_fast.manifest.load_manifest` checked (schema and
        manifest_problem: nothing is checked again here), with its classParams as given (not yet
        compared with what its seed draws)."""
        philox = m["rng"] == "philox"
        spec = cls(
            config=dict(m["config"]), stream=m["rng"],
            seed=int(m["seed"]) if philox else 0,  # the reference seeds process t with t + 1
            start_class=m["startClass"], classes=m["classes"], instances=m["instances"],
            reference_threads=m.get("referenceThreads", 1), family=rules.family_of(m),
        )
        spec.class_params = params_from_manifest(m["classParams"], spec.classes)
        return spec

    @classmethod
    def preset(cls, name: str, seed: Optional[int] = None, **options: Any) -> "RenderSpec":
        """Preset ``name`` of the paper as ``vatom-fast build --preset NAME --seed SEED`` with the
        same generator options makes it (see :func:`vatom_fast.presets.preset_spec`)."""
        from .presets import preset_spec

        return cls(**preset_spec(name, seed, **options))


def params_from_manifest(raw: List[Dict[str, Any]], classes: int) -> np.ndarray:
    """A checked manifest's classParams (one entry per class, in order) as a native array."""
    out = np.zeros(classes, dtype=native.CLASS_PARAMS_DTYPE)
    for i, entry in enumerate(raw):
        for key, name, _ in _PARAM_FIELDS:
            out[i][name] = entry.get(key, 0.0) if key in rules.RCDB_ONLY_PARAMS else entry[key]
    return out


def class_params_by_name(params: Any, class_index: int, family: str = "visualatom") -> Dict[str, Any]:
    """One class's parameters (a CLASS_PARAMS_DTYPE record) under the manifest's names: those its family draws."""
    out: Dict[str, Any] = {"class": class_index}
    for key, name, integer in _PARAM_FIELDS:
        if key in rules.RCDB_ONLY_PARAMS and family != "rcdb":
            continue
        out[key] = int(params[name]) if integer else float(params[name])
    return out


def params_problem(given: np.ndarray, drawn: np.ndarray, start_class: int) -> Optional[str]:
    """Where the manifest's class parameters differ from what its config, stream and seed draw."""
    for name in native.CLASS_PARAMS_DTYPE.names:
        bad = np.nonzero(given[name] != drawn[name])[0]
        if bad.size:
            i = int(bad[0])
            key = next(k for k, n, _ in _PARAM_FIELDS if n == name)
            return (
                f"classParams of class {start_class + i} has {key} {given[i][name]!r}, but the config, rng and "
                f"seed draw {drawn[i][name]!r} ({bad.size} classes differ in {key}): the manifest's class "
                "parameters disagree with its seed"
            )
    return None


class RendererCache:
    """Per-process native handles of one spec, made on first use (one per thread count).

    Pickling keeps the spec and drops the handles, so DataLoader workers (fork or spawn) each make
    their own.
    """

    def __init__(self, spec: RenderSpec):
        self.spec = spec
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._handles: Dict[int, native.Renderer] = {}

    def get(self, threads: int = 1) -> native.Renderer:
        if self._pid != os.getpid():
            self._reset()  # forked: the parent's handles (and their threads) are not ours
        with self._lock:
            r = self._handles.get(threads)
            if r is None:
                r = native.Renderer(self.spec.native_spec(), threads=threads)
                self._handles[threads] = r
            return r

    def close(self) -> None:
        if self._pid == os.getpid():
            for r in self._handles.values():
                r.close()
        self._reset()

    def __getstate__(self) -> Dict[str, Any]:
        return {"spec": self.spec}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.spec = state["spec"]
        self._reset()
