"""``benchmarks/gpu_suite.py --smoke``: the GPU suite's whole path at tiny sizes on CPU (the BERT
step under JAX in bfloat16 with its FLOPs, both ablation sweeps on JAX into one MLflow store, the
tables), so the script a lent GPU machine runs is known to work before a GPU is lent."""

import importlib.util
import subprocess
import sys

import pytest
from conftest import ROOT, benchmark_module, runs_of


def suite():
    return benchmark_module("gpu_suite")


def test_model_flops_of_a_training_step_by_hand():
    """BERT-base, batch 32 x 128: N = 12 (4 d^2 + 2 d f) = 84,934,656 weights;
    per token 6 N + 12 L d S = 509,607,936 + 14,155,776; times 4,096 tokens."""
    flops = suite().training_flops(suite().BASE, 32, 128)
    assert flops == 4096 * (6 * 84_934_656 + 12 * 12 * 768 * 128) == 2_145_336_164_352


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="no JAX")
def test_the_smoke_run_writes_the_tables_and_the_store(corpus, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--smoke"]
    # One job at a time: on 2 cores, joblib's worker processes only add their start-up
    # (tests/test_launchers.py covers the workers); the GPU machine runs 3 at a time.
    command += ["--out", str(out), "--data-dir", str(corpus), "--jobs", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (out / "gpu_suite.md").read_text()
    assert "| 2 x 16 |" in report and "| 2 x 32 |" in report
    assert "### `ema_ablation`" in report and "### `accum_ablation`" in report
    _, runs = runs_of(f"sqlite:///{out}/mlflow.db")
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 6 + 7  # EMA 3 x warm-up 2; accumulation 7 settings
    assert {r.data.tags["keras.backend"] for r in children} == {"jax"}
    assert all(r.info.status == "FINISHED" for r in runs)
