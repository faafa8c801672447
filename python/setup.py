"""Builds the package with its native renderer: the C ABI library (native/capi) compiled by the
system's C++ compiler and CMake from the checkout's sources (../CMakeLists.txt, ../native), placed in
vatom_fast/_lib/. Metadata is in pyproject.toml.

Without a compiler, CMake or the sources, the package still installs (it reads stored shards) and
vatom_fast/_lib/BUILD_SKIPPED.txt says why, so that rendering can name what is missing.
VATOM_FAST_REQUIRE_LIBRARY=1 makes that a build error instead.
"""

import os
import shutil
import subprocess
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)
LIBRARY = {"darwin": "libvatom_fast.dylib", "win32": "vatom_fast.dll"}.get(sys.platform, "libvatom_fast.so")
SKIPPED_NOTE = "BUILD_SKIPPED.txt"  # read by vatom_fast/native.py


def _compiler():
    for name in filter(None, (os.environ.get("CXX"), "c++", "g++", "clang++")):
        if shutil.which(name.split()[0]):
            return name
    return None


def build_library(target_dir):
    """Compiles the library into target_dir; returns None, or why it could not."""
    if not (os.path.isfile(os.path.join(CHECKOUT, "CMakeLists.txt"))
            and os.path.isfile(os.path.join(CHECKOUT, "native", "capi", "vatom_fast.h"))):
        return f"the native sources (CMakeLists.txt, native/) are not next to {HERE}"
    cmake = shutil.which("cmake")
    if cmake is None:
        return "cmake was not found on PATH (install CMake >= 3.18)"
    if _compiler() is None:
        return "no C++ compiler (c++, g++ or clang++) was found on PATH"
    work = tempfile.mkdtemp(prefix="vatom-fast-cmake-")  # outside the source tree
    try:
        out = os.path.join(work, "lib")
        env = dict(os.environ, VATOM_NO_CUDA="1")
        steps = [
            [cmake, "-S", CHECKOUT, "-B", work, "-DCMAKE_BUILD_TYPE=Release", "-DVATOM_BUILD_CLI=OFF",
             "-DVATOM_CUDA=OFF", f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out}", f"-DCMAKE_RUNTIME_OUTPUT_DIRECTORY={out}"],
            [cmake, "--build", work, "--target", "vatom_fast", "--parallel", str(os.cpu_count() or 1)],
        ]
        for cmd in steps:
            print("vatom-fast:", " ".join(cmd), flush=True)
            r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                tail = "\n".join(r.stdout.strip().splitlines()[-15:])
                return f"`{' '.join(cmd)}` failed (exit {r.returncode}):\n{tail}"
        shutil.copy2(os.path.join(out, LIBRARY), os.path.join(target_dir, LIBRARY))
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "vatom_fast", "_lib")
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        reason = build_library(target)
        if reason is None:
            return
        if os.environ.get("VATOM_FAST_REQUIRE_LIBRARY") == "1":
            raise SystemExit(f"vatom-fast: the native renderer was not built: {reason}")
        with open(os.path.join(target, SKIPPED_NOTE), "w", encoding="utf8") as f:
            f.write(reason + "\n")
        print(f"vatom-fast: WARNING: installing without the native renderer (reading shards works, "
              f"rendering will not): {reason}", file=sys.stderr, flush=True)


class BinaryDistribution(Distribution):
    """The wheel holds a compiled library: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
