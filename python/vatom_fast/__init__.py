"""PyTorch loader for vatom-fast VisualAtom datasets (format 1: memory-mapped .npy shards), and their
images rendered on the fly by the native library (no files needed)."""

from .dataset import VisualAtomDataset
from .manifest import (
    FORMAT_NAME,
    FORMAT_VERSION,
    DatasetError,
    DatasetInfo,
    NpyHeader,
    Shard,
    load_manifest,
    read_npy_header,
)
from .native import NativeError, NativeUnavailable, RenderCancelled
from .render import RenderSpec, SpecError
from .sampler import ShardWindowSampler, holdout_split

__version__ = "0.1.0"

__all__ = [
    "VisualAtomDataset",
    "ShardWindowSampler",
    "holdout_split",
    "DatasetError",
    "DatasetInfo",
    "NpyHeader",
    "Shard",
    "load_manifest",
    "NativeError",
    "NativeUnavailable",
    "RenderCancelled",
    "RenderSpec",
    "SpecError",
    "read_npy_header",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "__version__",
]
