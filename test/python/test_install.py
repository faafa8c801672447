"""`pip install ./python` gives a working package (installed into a temporary target, not the system)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_pip_install_then_read(tmp_path, synth):
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
    if pip.returncode != 0:
        pytest.skip("pip is not installed for this interpreter (Debian: apt-get install python3-pip)")
    target = tmp_path / "site"
    # --no-build-isolation: build with the installed setuptools, no package index needed.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps",
                    "--target", str(target), str(REPO / "python")], check=True, cwd=tmp_path)
    code = (
        "import sys, vatom_fast\n"
        "assert vatom_fast.__file__.startswith(sys.argv[2]), vatom_fast.__file__\n"
        "ds = vatom_fast.VisualAtomDataset(sys.argv[1], output='numpy')\n"
        "img, label = ds[len(ds) - 1]\n"
        "print(len(ds), img.shape, label)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", code, str(synth.root), str(target)], capture_output=True,
                         text=True, cwd=tmp_path, env=env, check=True).stdout.split()
    n = synth.classes * synth.instances
    assert out[0] == str(n)
