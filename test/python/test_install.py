"""The README's Python set-up line, run as written in a temporary copy of the checkout (so that pip's
build/ and egg-info land there, not in the source tree): it compiles the native renderer, which then
renders the CLI's dataset byte for byte with no VATOM_FAST_LIBRARY and no PYTHONPATH. Without CMake the
same line still installs a package that reads shards and says what rendering is missing."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What a user needs of the checkout for `pip install ./python`.
NEEDED = ("CMakeLists.txt", "native", "python")
IGNORED = shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "_lib", ".pytest_cache")


def setup_line() -> str:
    """The one set-up line, which README.md and python/README.md must both show."""
    lines = {}
    for doc in ("README.md", "python/README.md"):
        found = [l.strip() for l in (REPO / doc).read_text().splitlines() if "-m venv" in l and "pip install" in l]
        assert len(found) == 1, f"{doc} should show the Python set-up line once, found {found}"
        lines[doc] = found[0]
    assert len(set(lines.values())) == 1, f"README.md and python/README.md disagree: {lines}"
    line = lines["README.md"]
    assert line == ("/usr/bin/python3 -m venv --system-site-packages .venv && "
                    ".venv/bin/pip install --no-build-isolation ./python"), line
    return line


def copy_checkout(dest: Path) -> None:
    dest.mkdir()
    for name in NEEDED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORED)
        else:
            shutil.copy2(src, dest / name)


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VATOM_FAST_LIBRARY", "PIP_TARGET")}
    env.update(extra)
    return env


def require_venv_pip():
    r = subprocess.run([sys.executable, "-c", "import ensurepip, venv"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("venv/ensurepip is not installed for this interpreter (Debian: apt-get install python3-venv)")


def run_setup(checkout: Path, env: dict) -> subprocess.CompletedProcess:
    r = subprocess.run(["bash", "-c", setup_line()], cwd=checkout, env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"set-up line failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def test_readme_setup_line_compiles_the_renderer(tmp_path, synth):
    require_venv_pip()
    source_files_before = sorted(p.name for p in (REPO / "python").iterdir())
    checkout = tmp_path / "checkout"
    copy_checkout(checkout)
    run_setup(checkout, clean_env())
    python = checkout / ".venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import vatom_fast, os; print(os.path.dirname(vatom_fast.__file__))"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=True).stdout.strip()
    assert site.startswith(str(checkout / ".venv")), site
    assert (Path(site) / "_lib" / "libvatom_fast.so").is_file()
    assert (Path(site) / "format" / "presets.json").is_file()

    code = (
        "import sys, numpy as np, vatom_fast\n"
        "ds = vatom_fast.VisualAtomDataset(sys.argv[1], output='numpy')\n"
        "img, label = ds[len(ds) - 1]\n"
        "print(len(ds), label)\n"
        "if sys.argv[2]:\n"
        "    stored = vatom_fast.VisualAtomDataset(sys.argv[2], output='numpy', channels=1)\n"
        "    rendered = vatom_fast.VisualAtomDataset(sys.argv[2], output='numpy', channels=1, source='render')\n"
        "    same = all(np.array_equal(stored[i][0], rendered[i][0]) for i in range(len(stored)))\n"
        "    print('rendered-equal', same, len(stored))\n"
        "p = vatom_fast.VisualAtomDataset.preset('visualatom-1k', seed=0, output='numpy', channels=1)\n"
        "print('preset', len(p), p[0][0].shape)\n"
    )
    real = os.environ.get("VATOM_DATASET", "")
    out = subprocess.run([str(python), "-c", code, str(synth.root), real], cwd=tmp_path, env=clean_env(),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"{synth.classes * synth.instances} {synth.start_class + synth.classes - 1}"
    if real:
        assert lines[1].startswith("rendered-equal True ")
    assert lines[-1] == "preset 1000000 (512, 512)"
    # Nothing was written into the source tree.
    assert sorted(p.name for p in (REPO / "python").iterdir()) == source_files_before
    assert not (REPO / "python" / "build").exists()


def test_setup_line_without_cmake_installs_a_reader(tmp_path, synth):
    require_venv_pip()
    checkout = tmp_path / "checkout"
    copy_checkout(checkout)
    # A PATH with bash and python but no cmake and no compiler.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "python3"):
        os.symlink(shutil.which(tool, path="/usr/bin:/bin"), bin_dir / tool)
    run_setup(checkout, clean_env(PATH=str(bin_dir)))
    python = checkout / ".venv" / "bin" / "python"
    code = (
        "import sys, vatom_fast\n"
        "ds = vatom_fast.VisualAtomDataset(sys.argv[1], output='numpy')\n"
        "print(len(ds))\n"
        "try:\n"
        "    vatom_fast.VisualAtomDataset(sys.argv[1], output='numpy', source='render')\n"
        "except vatom_fast.NativeUnavailable as e:\n"
        "    print('unavailable:', e)\n"
    )
    out = subprocess.run([str(python), "-c", code, str(synth.root)], cwd=tmp_path, env=clean_env(PATH=str(bin_dir)),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == str(synth.classes * synth.instances)
    assert second.startswith("unavailable: vatom-fast cannot render: its native library ")
    assert "cmake was not found on PATH (install CMake >= 3.18)" in second
    assert re.search(r"a C\+\+17 compiler .* and CMake >= 3\.18", second)
