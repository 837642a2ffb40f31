"""TensorFlow and JAX (the GPU machine's backend, which has no TensorFlow beside it): the same
training on both follows the same curve, and the whole pipeline runs under JAX, chosen by the
config's ``backend`` key or by ``KERAS_BACKEND``."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY_MODEL, run_script, runs_of, trajectory, write_corpus

needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="no JAX")


@needs_jax
@pytest.mark.parametrize(
    "optimizer",
    [
        [],  # the default: Adam
        # sparse rows on TensorFlow, dense on JAX; decay, lookahead and a schedule over both
        [
            "optimizer.lazy=[word_embeddings]",
            "optimizer.weight_decay=0.01",
            "optimizer.lookahead_k=5",
            "optimizer.schedule={0: 0.1, 10: 1.0}",
        ],
    ],
    ids=["adam", "lazy_decay_lookahead"],
)
def test_tensorflow_and_jax_follow_the_same_curve(optimizer, tmp_path):
    """The default model, dropout off, 20 updates on the same batches from the same initial
    weights (TensorFlow writes them, JAX loads them): the losses and the weights after them agree
    to float32 round-off (1e-5, where the weights move by 5e-3 to 2e-2)."""
    corpus = write_corpus(tmp_path / "data", {"train": 1300, "valid": 64, "test": 64})
    initial = tmp_path / "initial.npz"
    tf, jax = (
        trajectory(backend, corpus, initial, tmp_path / f"{backend}.npz", *optimizer)
        for backend in ("tensorflow", "jax")
    )
    assert len(tf["losses"]) == 20
    np.testing.assert_allclose(jax["losses"], tf["losses"], rtol=1e-5)
    start = np.load(initial, allow_pickle=False)
    moved = max(np.abs(tf[key] - start[key]).max() for key in start.files)
    assert moved > 5e-3
    for key in start.files:
        np.testing.assert_allclose(jax[key], tf[key], atol=1e-5, rtol=0, err_msg=key)


@needs_jax
def test_debug_run_under_jax(corpus, tracking_uri, tmp_path, monkeypatch):
    """``backend=jax`` on the command line, no KERAS_BACKEND: the run is JAX's, with wrappers."""
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    wrappers = ["optimizer=lamb", "optimizer.lookahead_k=2", "optimizer.ema=0.9"]
    result = run_script(
        [
            "backend=jax",
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
    assert run.data.tags["keras.backend"] == run.data.params["backend"] == "jax"
    assert "oneDNN" not in result.stderr  # Keras seeds TensorFlow where it can, quietly
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


def test_a_process_holds_one_backend():
    """Keras is loaded here (on TensorFlow, or whatever KERAS_BACKEND says): asking for the
    other backend stops with an error that names both, and asking for the same one is fine."""
    import keras

    from keraslab.backends import use_backend
    from keraslab.errors import ConfigError

    loaded = keras.backend.backend()
    other = "jax" if loaded == "tensorflow" else "tensorflow"
    use_backend(loaded)
    with pytest.raises(ConfigError, match=f"backend={other} was asked for.*with {loaded} already"):
        use_backend(other)
