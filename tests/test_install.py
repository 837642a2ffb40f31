"""The GPU install path: ``pip install -e ".[cuda13]"`` (or ``cuda12``) adds JAX's CUDA plugin
for the pinned JAX to this environment and no TensorFlow build of its own (the environment keeps
its one CPU TensorFlow). Resolved against the package index with ``pip --dry-run``."""

import json
import subprocess
import sys
from importlib.metadata import version

import pytest
from conftest import ROOT


@pytest.mark.parametrize("cuda", ["cuda13", "cuda12"])
def test_a_gpu_extra_adds_jax_cuda_and_no_second_tensorflow(cuda, tmp_path):
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet"]
    command += ["--report", str(report), "-e", f"{ROOT}[{cuda}]"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    added = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert added[f"jax-{cuda}-plugin"] == added[f"jax-{cuda}-pjrt"] == version("jax")
    assert not [name for name in added if name.startswith(("tensorflow", "tf-"))], added
    assert "jax" not in added and "jaxlib" not in added  # the pinned JAX stays
