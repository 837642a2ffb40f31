"""The whole pipeline under the JAX backend (the GPU machine has JAX but no TensorFlow)."""

import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import TINY_MODEL, run_script, runs_of


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_debug_run_under_jax(corpus, tracking_uri, tmp_path, monkeypatch):
    monkeypatch.setitem(os.environ, "KERAS_BACKEND", "jax")
    wrappers = ["optimizer=lamb", "optimizer.lookahead_k=2", "optimizer.ema=0.9"]
    result = run_script(
        [
            "trainer=debug",
            *TINY_MODEL,
            *wrappers,
            f"data.data_dir={corpus}",
            f"hydra.run.dir={tmp_path}/run",
        ],
        tracking_uri,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client, (run,) = runs_of(tracking_uri)
    assert run.info.status == "FINISHED"
    assert run.data.tags["keras.backend"] == "jax"
    losses = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in losses] == [2, 4, 6, 8, 10, 12]
    assert 0.0 < run.data.metrics["best_valid_accuracy"] <= 1.0
    assert 0.0 < run.data.metrics["best_valid_ema_accuracy"] <= 1.0


@pytest.mark.parametrize(("preset", "expected"), [(None, "1"), ("0", "0")])
def test_import_turns_on_tensorflow_onednn_unless_set(preset, expected):
    """``import keraslab`` defaults TF_ENABLE_ONEDNN_OPTS to 1 and keeps a user's own value."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if preset is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = preset
    probe = "import os, sys, keraslab; print(os.environ['TF_ENABLE_ONEDNN_OPTS'], 'tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == [expected, "False"], result.stderr
