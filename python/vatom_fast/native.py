"""ctypes binding of the native renderer's C ABI (native/capi/vatom_fast.h), and nothing else.

Every foreign function is declared here with its argtypes and restype. The library is
``vatom_fast/_lib/libvatom_fast.so`` inside the installed package (``pip install`` compiles it), or the
file named by the environment variable ``VATOM_FAST_LIBRARY`` (e.g. ``build/Release/libvatom_fast.so``
of an ``npm run build`` checkout). ctypes releases the GIL for the length of every call, so renders
run on native threads while other Python threads go on.
"""

from __future__ import annotations

import ctypes
import mmap
import operator
import os
import sys
import threading
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np

LIBRARY_ENV = "VATOM_FAST_LIBRARY"
ABI_VERSION = 2
_LIB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib")
# setup.py writes the reason here when it could not compile the library at install time.
SKIPPED_NOTE = "BUILD_SKIPPED.txt"

FAMILY_VISUALATOM = 0
FAMILY_RCDB = 1
STREAM_PHILOX = 0
STREAM_REFERENCE = 1

OK = 0
ERROR_INVALID_ARGUMENT = 1
ERROR_OUT_OF_RANGE = 2
ERROR_CANCELLED = 3
ERROR_OUT_OF_MEMORY = 4
ERROR_UNAVAILABLE = 5
ERROR_INTERNAL = 6


class NativeUnavailable(RuntimeError):
    """The native renderer library is not installed or cannot be loaded (reading shards still works)."""


class NativeError(RuntimeError):
    """A call into the native library failed: ``code`` (a ``vatom_status``) and ``message``."""

    def __init__(self, code: int, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


class NativeSpecError(NativeError, ValueError):
    """The native side refused a spec or an argument (VATOM_ERROR_INVALID_ARGUMENT)."""


class NativeIndexError(NativeError, IndexError):
    """An image index outside the dataset (VATOM_ERROR_OUT_OF_RANGE)."""


class RenderCancelled(NativeError):
    """The handle was cancelled (VATOM_ERROR_CANCELLED)."""


class Config(ctypes.Structure):
    _fields_ = [
        ("family", ctypes.c_int32),
        ("image_size", ctypes.c_int32),
        ("vertices_min", ctypes.c_int32), ("vertices_max", ctypes.c_int32),
        ("orbits_min", ctypes.c_int32), ("orbits_max", ctypes.c_int32),
        ("noise_min", ctypes.c_double),
        ("line_width", ctypes.c_double),
        ("radius_min", ctypes.c_int32),
        ("oval_rate", ctypes.c_double),
        ("start_pos", ctypes.c_int32),
        ("freq1_min", ctypes.c_int32), ("freq1_max", ctypes.c_int32),
        ("freq2_min", ctypes.c_int32), ("freq2_max", ctypes.c_int32),
        ("radius_span", ctypes.c_int32),
    ]


class ClassParams(ctypes.Structure):
    _fields_ = [
        ("vertices", ctypes.c_int32), ("orbits", ctypes.c_int32), ("radius", ctypes.c_int32),
        ("freq1", ctypes.c_int32), ("freq2", ctypes.c_int32),
        ("noise", ctypes.c_double), ("line_width", ctypes.c_double),
        ("oval_x", ctypes.c_double), ("oval_y", ctypes.c_double),
        ("centre_y", ctypes.c_double), ("centre_x", ctypes.c_double),
    ]


# vatom_class_params as a NumPy record, so that a dataset's class parameters are one picklable array
# handed to the library without a copy.
CLASS_PARAMS_DTYPE = np.dtype(
    {
        "names": [name for name, _ in ClassParams._fields_],
        "formats": ["<i4"] * 5 + ["<f8"] * 6,
        "offsets": [getattr(ClassParams, name).offset for name, _ in ClassParams._fields_],
        "itemsize": ctypes.sizeof(ClassParams),
    }
)


class Spec(ctypes.Structure):
    _fields_ = [
        ("abi_version", ctypes.c_uint32),
        ("stream", ctypes.c_int32),
        ("config", Config),
        ("seed", ctypes.c_uint64),
        ("start_class", ctypes.c_int64),
        ("classes", ctypes.c_int64),
        ("instances", ctypes.c_int64),
        ("reference_threads", ctypes.c_int32),
        ("class_params", ctypes.POINTER(ClassParams)),
    ]


class Info(ctypes.Structure):
    _fields_ = [
        ("image_size", ctypes.c_int32),
        ("threads", ctypes.c_int32),
        ("image_bytes", ctypes.c_int64),
        ("image_count", ctypes.c_int64),
        ("start_class", ctypes.c_int64),
        ("classes", ctypes.c_int64),
        ("instances", ctypes.c_int64),
    ]


_Handle = ctypes.c_void_p
_u8p = ctypes.POINTER(ctypes.c_uint8)
_i64p = ctypes.POINTER(ctypes.c_int64)

_SIGNATURES = {
    "vatom_abi_version": ([], ctypes.c_uint32),
    "vatom_last_error": ([], ctypes.c_char_p),
    "vatom_spec_init": ([ctypes.POINTER(Spec)], None),
    "vatom_renderer_create": ([ctypes.POINTER(Spec), ctypes.c_int32, ctypes.c_char_p, ctypes.POINTER(_Handle)], ctypes.c_int),
    "vatom_renderer_free": ([_Handle], None),
    "vatom_renderer_info": ([_Handle, ctypes.POINTER(Info)], ctypes.c_int),
    "vatom_renderer_class_params": ([_Handle, ctypes.c_int64, ctypes.c_int64, ctypes.POINTER(ClassParams)], ctypes.c_int),
    "vatom_draw_class_params": ([ctypes.POINTER(Spec), ctypes.POINTER(ClassParams), ctypes.c_int64], ctypes.c_int),
    "vatom_render_range": ([_Handle, ctypes.c_int64, ctypes.c_int64, _u8p, ctypes.c_size_t], ctypes.c_int),
    "vatom_render_indices": ([_Handle, _i64p, ctypes.c_int64, _u8p, ctypes.c_size_t], ctypes.c_int),
    "vatom_render_range_device": (
        [_Handle, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p], ctypes.c_int),
    "vatom_renderer_cancel": ([_Handle], ctypes.c_int),
    "vatom_renderer_resume": ([_Handle], ctypes.c_int),
}

_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None


def _library_file_name() -> str:
    if sys.platform == "darwin":
        return "libvatom_fast.dylib"
    if sys.platform == "win32":
        return "vatom_fast.dll"
    return "libvatom_fast.so"


def library_path() -> str:
    """Where the library is looked for: ``$VATOM_FAST_LIBRARY`` if set, else inside the package."""
    env = os.environ.get(LIBRARY_ENV)
    return env if env else os.path.join(_LIB_DIR, _library_file_name())


def _missing_message(path: str) -> str:
    if os.environ.get(LIBRARY_ENV):
        return (
            f"vatom-fast cannot render: {LIBRARY_ENV}={path} does not exist. Point it at the "
            "libvatom_fast library (`npm run build` writes build/Release/libvatom_fast.so) or unset it "
            "to use the one installed with the Python package."
        )
    why = ""
    note = os.path.join(_LIB_DIR, SKIPPED_NOTE)
    if os.path.isfile(note):
        with open(note, encoding="utf8", errors="replace") as f:
            why = f" When this package was installed, the library was not compiled: {f.read().strip()}."
    return (
        f"vatom-fast cannot render: its native library {path} is not installed.{why} Rendering needs "
        "a C++17 compiler (g++ or clang++) and CMake >= 3.18 when the package is installed: install them "
        "and reinstall (README, 'PyTorch'), or set "
        f"{LIBRARY_ENV} to a libvatom_fast library built by `npm run build`. Reading stored shards works "
        "without it."
    )


def library() -> ctypes.CDLL:
    """The loaded library (once per process); raises :class:`NativeUnavailable` saying what is missing."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        path = library_path()
        if not os.path.isfile(path):
            raise NativeUnavailable(_missing_message(path))
        try:
            lib = ctypes.CDLL(os.path.abspath(path))
        except OSError as e:
            raise NativeUnavailable(f"vatom-fast cannot render: loading {path} failed: {e}") from None
        for name, (argtypes, restype) in _SIGNATURES.items():
            try:
                fn = getattr(lib, name)
            except AttributeError:
                raise NativeUnavailable(
                    f"vatom-fast cannot render: {path} has no function {name} (a library of another version?)"
                ) from None
            fn.argtypes = argtypes
            fn.restype = restype
        version = lib.vatom_abi_version()
        if version != ABI_VERSION:
            raise NativeUnavailable(
                f"vatom-fast cannot render: {path} speaks C ABI version {version}, this package needs "
                f"{ABI_VERSION} (rebuild or reinstall so that both come from one checkout)"
            )
        _lib = lib
        return lib


def available() -> bool:
    """Whether the native renderer can be loaded in this process."""
    try:
        library()
        return True
    except NativeUnavailable:
        return False


def _error_message(lib: ctypes.CDLL, status: int) -> str:
    """The failed call's message: to be read on the thread that made the call."""
    return (lib.vatom_last_error() or b"").decode("utf8", "replace") or f"native error {status}"


def _check(lib: ctypes.CDLL, status: int, message: Optional[str] = None) -> None:
    if status == OK:
        return
    if message is None:
        message = _error_message(lib, status)
    cls = {
        ERROR_INVALID_ARGUMENT: NativeSpecError,
        ERROR_OUT_OF_RANGE: NativeIndexError,
        ERROR_CANCELLED: RenderCancelled,
    }.get(status, NativeError)
    raise cls(status, message)


def _params_pointer(params: Optional[np.ndarray]):
    if params is None:
        return None
    if params.dtype != CLASS_PARAMS_DTYPE or not params.flags.c_contiguous:
        raise TypeError("class parameters must be a C-contiguous array of CLASS_PARAMS_DTYPE")
    return params.ctypes.data_as(ctypes.POINTER(ClassParams))


def make_spec(
    config: Config, stream: int, seed: int, start_class: int, classes: int, instances: int,
    reference_threads: int = 1, class_params: Optional[np.ndarray] = None,
) -> Spec:
    """A ``vatom_spec``; ``class_params`` (CLASS_PARAMS_DTYPE, one per class) must outlive the calls
    that use the spec."""
    spec = Spec()
    library().vatom_spec_init(ctypes.byref(spec))
    spec.stream = stream
    spec.config = config
    spec.seed = seed
    spec.start_class = start_class
    spec.classes = classes
    spec.instances = instances
    spec.reference_threads = reference_threads
    spec.class_params = _params_pointer(class_params)
    return spec


def paper_config() -> Config:
    spec = Spec()
    library().vatom_spec_init(ctypes.byref(spec))
    return spec.config


def draw_class_params(spec: Spec) -> np.ndarray:
    """The class parameters the spec's config, stream and seed draw (its own class_params ignored)."""
    lib = library()
    out = np.zeros(spec.classes, dtype=CLASS_PARAMS_DTYPE)
    _check(lib, lib.vatom_draw_class_params(ctypes.byref(spec), _params_pointer(out), spec.classes))
    return out


_INT64_MAX = 2 ** 63 - 1
# A render from the main thread that may draw this many line segments (images x vertices x orbits,
# at most: 256 images of the paper preset), or any on the sequential reference stream, whose replay
# can be long, waits in Python so that Ctrl-C cancels it; shorter ones are not worth a thread.
INTERRUPTIBLE_SEGMENTS = 256 * 1000 * 200
_PAGE = mmap.PAGESIZE
_IOV_MAX = 1024


_libc: Optional[ctypes.CDLL] = None


def check_writable(address: int, nbytes: int) -> None:
    """Raises ``ValueError`` unless the process may write every page of ``[address, address + nbytes)``.

    The kernel reads a byte of /dev/zero into each page (a read-only mapping makes it fail with
    EFAULT, where a store from native code would end the process with SIGSEGV): one byte of each page
    is zeroed, which an output about to be written does not mind.
    """
    global _libc
    if nbytes <= 0 or not sys.platform.startswith("linux"):
        return
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        _libc.readv.restype = ctypes.c_ssize_t
    first_page = address - address % _PAGE
    starts = np.arange(first_page, address + nbytes, _PAGE, dtype=np.uint64)
    starts[0] = address
    iov = np.empty((starts.size, 2), dtype=np.uint64)  # struct iovec {void *base; size_t len;}
    iov[:, 0] = starts
    iov[:, 1] = 1
    fd = os.open("/dev/zero", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for at in range(0, starts.size, _IOV_MAX):
            count = min(_IOV_MAX, starts.size - at)
            if _libc.readv(fd, iov[at:].ctypes.data, count) != count:
                raise ValueError("out is read-only memory (for example a tensor over a read-only memory map): "
                                 "render into a writable array or tensor")
    finally:
        os.close(fd)


def _check_out(out: np.ndarray, images: int, image_bytes: int) -> None:
    """A caller's ``out`` (arrays made here are right by construction and not checked)."""
    if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise TypeError("out must be a writable C-contiguous uint8 array")
    if not out.flags.writeable:
        raise ValueError("out is a read-only array (writeable=False): render into a writable array")
    if out.nbytes < images * image_bytes:
        raise ValueError(f"out holds {out.nbytes} bytes, {images} images need {images * image_bytes}")
    check_writable(out.ctypes.data, images * image_bytes)


def int64_indices(indices: Any, outside: Callable[[int], str]) -> np.ndarray:
    """``indices`` (a sequence or array of integers of any type) as a C-contiguous int64 array, each
    value exactly: one that no int64 holds is an ``IndexError`` with the message ``outside(value)``
    (never wrapped), a non-integer a ``TypeError``."""
    idx = np.asarray(indices)
    if not isinstance(indices, np.ndarray) and idx.size and not np.issubdtype(idx.dtype, np.signedinteger):
        idx = np.asarray(indices, dtype=object)  # Python ints beyond int64, or mixed with negatives: exactly
    if idx.dtype == object:
        values = []
        for v in idx.reshape(-1):
            if isinstance(v, (bool, np.bool_)):
                raise TypeError(f"image indices must be integers, not {type(v).__name__}")
            try:
                values.append(operator.index(v))
            except TypeError:
                raise TypeError(f"image indices must be integers, not {type(v).__name__}") from None
        beyond = [v for v in values if not -_INT64_MAX - 1 <= v <= _INT64_MAX]
        if beyond:
            raise IndexError(outside(beyond[0]))
        return np.ascontiguousarray(np.asarray(values, dtype=np.int64).reshape(idx.shape))
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"image indices must be integers, not {idx.dtype}")
    if idx.size and np.issubdtype(idx.dtype, np.unsignedinteger) and int(idx.max()) > _INT64_MAX:
        raise IndexError(outside(int(idx.max())))
    return np.ascontiguousarray(idx, dtype=np.int64)


def _int64_bound(begin: Any, end: Any, count: int) -> Tuple[int, int]:
    b, e = operator.index(begin), operator.index(end)
    if not (-_INT64_MAX - 1 <= b <= _INT64_MAX and -_INT64_MAX - 1 <= e <= _INT64_MAX):
        raise IndexError(f"images [{b}, {e}) are outside the dataset's [0, {count})")
    return b, e


class Renderer:
    """One native renderer handle: its own thread pool (``threads`` native threads) and stream state.

    Use one per process (the handle does not survive ``fork``; pickling is refused). Calls on one
    handle are serialised by the library; different handles are independent.
    """

    def __init__(self, spec: Spec, threads: int = 1, device: str = "cpu"):
        lib = library()
        self._lib = lib
        self._handle = _Handle()
        self._pid = os.getpid()
        self._sequential = spec.stream == STREAM_REFERENCE
        self._segments_per_image = max(1, spec.config.vertices_max) * max(1, spec.config.orbits_max)
        _check(lib, lib.vatom_renderer_create(ctypes.byref(spec), int(threads), device.encode(), ctypes.byref(self._handle)))
        info = Info()
        _check(lib, lib.vatom_renderer_info(self._handle, ctypes.byref(info)))
        self.image_size = info.image_size
        self.image_bytes = info.image_bytes
        self.image_count = info.image_count
        self.threads = info.threads
        self.start_class = info.start_class
        self.classes = info.classes
        self.instances = info.instances

    def __reduce__(self):
        raise TypeError("a native Renderer cannot be pickled: make one per process")

    def _live(self) -> ctypes.c_void_p:
        if not self._handle:
            raise ValueError("the renderer is closed")
        if self._pid != os.getpid():
            raise RuntimeError("a native Renderer was used after fork: make one per process")
        return self._handle

    def class_params(self) -> np.ndarray:
        out = np.zeros(self.classes, dtype=CLASS_PARAMS_DTYPE)
        _check(self._lib, self._lib.vatom_renderer_class_params(self._live(), 0, self.classes, _params_pointer(out)))
        return out

    def _render(self, images: int, call: Callable[[ctypes.c_void_p], int]) -> None:
        """Runs ``call(handle)``; a long render from the main thread runs on a helper thread while
        the main thread waits interruptibly: Ctrl-C (or any exception there) cancels the render,
        waits for it to stop and raises."""
        handle = self._live()
        if threading.current_thread() is not threading.main_thread() or \
                (images * self._segments_per_image < INTERRUPTIBLE_SEGMENTS and not self._sequential):
            _check(self._lib, call(handle))
            return
        outcome = []

        def run() -> None:
            status = call(handle)
            outcome.append((status, _error_message(self._lib, status) if status != OK else None))

        worker = threading.Thread(target=run, name="vatom-render", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.1)
        except BaseException:
            self._lib.vatom_renderer_cancel(handle)
            worker.join()
            self._lib.vatom_renderer_resume(handle)
            raise
        _check(self._lib, *outcome[0])

    def render_range(self, begin: int, end: int, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Images ``[begin, end)`` as uint8 ``(end - begin, S, S)`` (into ``out`` when given)."""
        begin, end = _int64_bound(begin, end, self.image_count)
        n = max(0, end - begin)
        if out is None:
            out = np.empty((n, self.image_size, self.image_size), dtype=np.uint8)
        else:
            _check_out(out, n, self.image_bytes)
        self._render(n, lambda h: self._lib.vatom_render_range(h, begin, end, out.ctypes.data_as(_u8p), out.nbytes))
        return out

    def render_indices(self, indices: Sequence[int], out: Optional[np.ndarray] = None) -> np.ndarray:
        """Images ``indices`` (any order, repeats allowed) as uint8 ``(len, S, S)`` (into ``out`` when given)."""
        idx = int64_indices(indices, lambda v: f"image index {v} is outside the dataset's [0, {self.image_count})").reshape(-1)
        if out is None:
            out = np.empty((idx.size, self.image_size, self.image_size), dtype=np.uint8)
        else:
            _check_out(out, idx.size, self.image_bytes)
        self._render(idx.size, lambda h: self._lib.vatom_render_indices(
            h, idx.ctypes.data_as(_i64p), idx.size, out.ctypes.data_as(_u8p), out.nbytes))
        return out

    def render_into(self, indices: np.ndarray, address: int, nbytes: int) -> None:
        """Images ``indices`` (int64, C-contiguous) into raw memory (e.g. a torch tensor's ``data_ptr()``)."""
        if nbytes < indices.size * self.image_bytes:
            raise ValueError(f"the output holds {nbytes} bytes, {indices.size} images need {indices.size * self.image_bytes}")
        check_writable(address, indices.size * self.image_bytes)
        self._render(indices.size, lambda h: self._lib.vatom_render_indices(
            h, indices.ctypes.data_as(_i64p), indices.size, ctypes.cast(address, _u8p), nbytes))

    def render_range_device(self, begin: int, end: int, address: int, nbytes: int, stream: int = 0) -> None:
        """Images ``[begin, end)`` into GPU memory of CUDA device 0 at ``address`` (``nbytes`` long), queued
        on the CUDA stream ``stream`` (a ``cudaStream_t`` as an int; 0: the default stream). Returns once
        queued. Needs a renderer made with ``device="cuda"``."""
        _check(self._lib, self._lib.vatom_render_range_device(
            self._live(), begin, end, ctypes.c_void_p(address), nbytes, ctypes.c_void_p(stream or None)))

    def render_range_cuda(self, begin: int, end: int, out=None):
        """Images ``[begin, end)`` as a CUDA uint8 tensor ``(end - begin, S, S)`` on device 0 (into ``out``
        when given: C-contiguous, uint8, on ``cuda:0``), rendered there on the current PyTorch stream and
        never copied through host memory. Work queued on that stream afterwards sees the images."""
        import torch

        n = max(0, end - begin)
        if out is None:
            out = torch.empty((n, self.image_size, self.image_size), dtype=torch.uint8, device="cuda:0")
        if not isinstance(out, torch.Tensor) or out.device.type != "cuda" or out.dtype != torch.uint8 \
                or not out.is_contiguous():
            raise TypeError(f"out must be a contiguous uint8 tensor on cuda:0, not {getattr(out, 'dtype', type(out))} "
                            f"on {getattr(out, 'device', '?')}")
        if (out.device.index or 0) != 0:
            raise ValueError(f"out is on {out.device}; the renderer draws on CUDA device 0 (cuda:0)")
        stream = torch.cuda.current_stream(out.device).cuda_stream
        self.render_range_device(begin, end, out.data_ptr(), out.numel(), stream)
        return out

    def cancel(self) -> None:
        """Make the render in progress (from another thread) and later ones raise RenderCancelled."""
        _check(self._lib, self._lib.vatom_renderer_cancel(self._live()))

    def resume(self) -> None:
        _check(self._lib, self._lib.vatom_renderer_resume(self._live()))

    def close(self) -> None:
        if self._handle and self._pid == os.getpid():
            self._lib.vatom_renderer_free(self._handle)
        self._handle = _Handle()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
