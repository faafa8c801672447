"""PyTorch loader for vatom-fast VisualAtom datasets (format 1: memory-mapped .npy shards), and their
images rendered on the fly by the native library (no files needed)."""

from .dataset import VisualAtomDataset
from .errors import DatasetError
from .manifest import DatasetInfo, Shard, load_manifest
from .native import NativeError, NativeUnavailable, RenderCancelled
from .npy import NpyHeader, read_npy_header
from .render import RenderSpec, SpecError
from .rules import FORMAT_NAME, FORMAT_VERSION
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
