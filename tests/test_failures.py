"""Failures that must not lose or corrupt anything: a non-finite loss stops the run FAILED with
its step, and no checkpoint ever holds a non-finite weight."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import keras
import numpy as np
import pytest
from conftest import DEBUG, ROOT, run_script, runs_of

from keraslab.errors import TrainingError
from keraslab.training import Trainer
from keraslab.training.finite_guard import FiniteGuard


def test_a_non_finite_loss_stops_the_run_failed_and_keeps_the_last_good_checkpoint(
    corpus, tracking_uri, tmp_path
):
    run_dir = tmp_path / "run"
    # Six updates an epoch; from the seventh on the learning rate is 1e12 times larger.
    explode = "optimizer.schedule={1: 1.0, 6: 1.0, 7: 1.0e12}"
    result = run_script(
        [*DEBUG, explode, f"data.data_dir={corpus}", f"hydra.run.dir={run_dir}"], tracking_uri
    )
    assert result.returncode == 1
    assert "error: the training loss became nan at batch" in result.stderr
    assert "of epoch 2" in result.stderr and "Traceback" not in result.stderr
    _, (run,) = runs_of(tracking_uri)
    assert run.info.status == "FAILED"
    assert "TrainingError: the training loss became nan" in run.data.tags["error"]
    assert "optimizer updates" in run.data.tags["error"]

    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert (state["epochs_done"], state["checkpoint"]) == (1, "epoch-1.keras")
    for name in ("epoch-1.keras", "last.keras", "best.keras"):
        model = Trainer.restore(run_dir / "checkpoints" / name)
        assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights), name
    assert "test_accuracy" not in run.data.metrics


def test_an_epoch_that_breaks_the_weights_is_stopped_before_its_checkpoints():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="dense")])
    model.compile(optimizer="sgd", loss="mse")
    guard = FiniteGuard()
    guard.set_model(model)
    guard.on_epoch_begin(3)
    guard.on_epoch_end(3, {"loss": 0.5, "val_loss": 0.7})  # all finite: nothing happens
    model.get_layer("dense").kernel.assign(np.array([[np.inf], [1.0]], "float32"))
    with pytest.raises(
        TrainingError,
        match=r"epoch 4 ended with non-finite weights in \S*dense/kernel.*epoch 3's, whole and resumable",
    ):
        guard.on_epoch_end(3, {"loss": 0.5})
    with pytest.raises(TrainingError, match=r"epoch 4 ended with non-finite val_loss"):
        guard.on_epoch_end(3, {"loss": 0.5, "val_loss": float("nan")})


@pytest.mark.parametrize(
    ("store", "message"),
    [
        (
            "http://127.0.0.1:9",  # the discard port: nothing listens
            "error: no MLflow tracking server answers at http://127.0.0.1:9",
        ),
        (
            "sqlite:///{file}/mlflow.db",  # a folder that is a file
            "error: the MLflow store sqlite:///{file}/mlflow.db cannot be used",
        ),
    ],
)
def test_an_unusable_tracking_store_stops_at_once_with_one_clear_error(store, message, tmp_path):
    file = tmp_path / "a-file"
    file.write_text("")
    start = time.monotonic()
    result = run_script(
        ["trainer=debug", f"hydra.run.dir={tmp_path}/run"], store.format(file=file), timeout=120
    )
    assert result.returncode == 2
    assert message.format(file=file) in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - start < 30


@pytest.mark.parametrize(
    ("backend", "precision"),
    [("tensorflow", "float32"), ("jax", "float32"), ("tensorflow", "mixed_float16")],
)
def test_a_resumed_run_is_the_uninterrupted_run_bit_for_bit(corpus, tmp_path, backend, precision):
    """Dropout's seed generators are saved beside each checkpoint (Keras's .keras file leaves
    them out, and a resumed run used to restart its masks: weights differed by ~0.007). Under
    float16 the loss scale and its count of good steps resume too (they are optimizer
    variables), with EMA and accumulation around it."""
    args = [*DEBUG, f"data.data_dir={corpus}", "logger=none", f"trainer.precision={precision}"]
    if precision == "mixed_float16":
        args += ["optimizer.ema=0.9", "optimizer.accum_steps=2"]
    env = {"KERAS_BACKEND": backend}
    for name, extra in (
        ("whole", ["trainer.epochs=2"]),
        ("first", ["trainer.epochs=1"]),
        ("resumed", ["trainer.epochs=2", f"resume={tmp_path / 'first'}"]),
    ):
        result = run_script([*args, *extra, f"hydra.run.dir={tmp_path / name}"], env=env)
        assert result.returncode == 0, result.stderr[-3000:]
    keras.config.set_dtype_policy(precision)  # as a resumed run sets it before loading
    try:
        whole, resumed = (
            Trainer.restore(tmp_path / run / "checkpoints" / "last.keras")
            for run in ("whole", "first")
        )
    finally:
        keras.config.set_dtype_policy("float32")
    scaled = isinstance(whole.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == isinstance(resumed.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (precision == "mixed_float16")
    for a, b in zip(
        whole.weights + whole.optimizer.variables,
        resumed.weights + resumed.optimizer.variables,
        strict=True,
    ):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    states = [
        json.loads((tmp_path / run / "checkpoints" / "state.json").read_text())
        for run in ("whole", "first")
    ]
    assert states[0]["history"] == states[1]["history"]
    assert states[0]["random_states"] == states[1]["random_states"]


def start_server(port: int, folder) -> subprocess.Popen:
    """``mlflow server`` on 127.0.0.1:``port`` over a store in ``folder``, once it answers."""
    server = subprocess.Popen(
        [
            f"{sys.prefix}/bin/mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{folder}/mlflow.db",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--workers",
            "1",
        ],
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no job runner
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return server
        except OSError:
            time.sleep(0.5)
    stop_server(server)
    raise AssertionError("mlflow server did not start")


def stop_server(server) -> None:
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()


def epochs_done(run_dir) -> int:
    path = run_dir / "checkpoints" / "state.json"
    try:
        return json.loads(path.read_text())["epochs_done"]
    except (OSError, ValueError):
        return 0


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_tracking_server_that_goes_away_mid_run_loses_nothing(corpus, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    run_dir = tmp_path / "run"
    server = start_server(port, tmp_path)
    run = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "run.py"),
            *DEBUG,
            "trainer.epochs=20",
            f"data.data_dir={corpus}",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while epochs_done(run_dir) < 2 and run.poll() is None:
            time.sleep(0.2)
        stop_server(server)
        away_from = epochs_done(run_dir)
        while epochs_done(run_dir) < away_from + 3 and run.poll() is None:
            time.sleep(0.2)
        assert run.poll() is None, "training went on while the server was away"
        server = start_server(port, tmp_path)
        _, stderr = run.communicate(timeout=300)
    finally:
        run.kill()
        stop_server(server)
    assert run.returncode == 0, stderr[-3000:]
    assert f"the tracking store {uri} does not answer" in stderr
    assert f"the tracking store {uri} is back; held metrics sent" in stderr
    client, (finished,) = runs_of(f"sqlite:///{tmp_path}/mlflow.db")
    assert finished.info.status == "FINISHED"
    epochs = [(m.step, m.value) for m in client.get_metric_history(finished.info.run_id, "epoch")]
    assert sorted(epochs) == [(6 * n, n) for n in range(1, 21)]
    loss_steps = [m.step for m in client.get_metric_history(finished.info.run_id, "loss")]
    assert sorted(loss_steps) == list(range(2, 121, 2))
