"""Data-parallel training: worker shares of each batch, and runs of 2 worker processes on
127.0.0.1 (JAX, Gloo collectives) against 1 process with the same global batch."""

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import psutil
import pytest
from conftest import DEBUG, ROOT, compose_config, run_script, runs_of

from keraslab import launch as launch_module
from keraslab.config_checks import check_config
from keraslab.data.encoded import EncodedSplit
from keraslab.errors import ConfigError
from keraslab.loaders import SplitBatches
from keraslab.resume import STATE_FILE, read_state

# 20 optimizer updates, dropout off, the loss logged at every update.
SAME_CURVE = [
    *DEBUG,
    "trainer.epochs=2",
    "trainer.steps_per_epoch=10",
    "trainer.log_every_n_steps=1",
    "model.encoder.dropout=0",
    "model.head_dropout=0",
]


# Lazy rows, accumulation (2 micro-batches an update), lookahead, EMA, a schedule, and LAMB's
# weight decay and layer adaptation: 20 updates again.
EVERY_WRAPPER = [
    "optimizer=lamb",
    "optimizer.lazy=[word_embeddings]",
    "optimizer.accum_steps=2",
    "optimizer.lookahead_k=3",
    "optimizer.ema=0.9",
    "optimizer.schedule={4:1.0,20:0.1}",
    "trainer.steps_per_epoch=20",
]


def ids(n: int) -> EncodedSplit:
    return EncodedSplit({"x": np.arange(n)[:, None]}, np.arange(n))


def rows_of(batches: SplitBatches, epoch: int, index: int) -> np.ndarray:
    return batches.batch(epoch, index)[0]["x"][:, 0]


@pytest.mark.parametrize("n", [48, 45, 41])
def test_the_workers_shares_make_up_each_batch_and_every_sample_comes_once(n):
    whole = SplitBatches(ids(n), 8, shuffle=True, seed=3)
    shares = [SplitBatches(ids(n), 8, shuffle=True, seed=3, share=(w, 2)) for w in range(2)]
    # 45: the last batch has 5 rows, cut to 4; 41: its single row is dropped
    assert len(shares[0]) == (5 if n == 41 else 6)
    for epoch in range(2):
        seen = []
        for index in range(len(shares[0])):
            parts = [rows_of(share, epoch, index) for share in shares]
            assert len(parts[0]) == len(parts[1]) == shares[0].rows(index) // 2
            together = np.concatenate(parts)
            np.testing.assert_array_equal(together, rows_of(whole, epoch, index)[: len(together)])
            seen.extend(together)
        assert len(seen) == len(set(seen)) == n - n % 8 % 2  # at most one left out an epoch


def test_each_worker_draws_its_own_transform_stream():
    def draw(inputs, labels, rng):
        return inputs, rng.integers(0, 1 << 30, len(labels))

    split = EncodedSplit({"x": np.arange(16)[:, None]}, np.arange(16), transform=draw)
    labels = [SplitBatches(split, 8, share=(w, 2)).batch(1, 1)[1] for w in range(2)]
    for worker, drawn in enumerate(labels):
        np.testing.assert_array_equal(
            drawn, np.random.default_rng((0, 1, 1, worker)).integers(0, 1 << 30, 4)
        )


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["distribution.workers=2", "distribution.worker_index=2"], "worker_index must be below"),
        (["distribution.workers=3", "data.batch_size=16"], "must be a multiple of"),
        (["backend=tensorflow"], "runs on backend=jax, got backend=tensorflow"),
        (["distribution.workers=0"], "distribution.workers must be an integer >= 1"),
        (["distribution.workers=2", "experiment=vqvae"], "VQVAETask validates with predictions"),
    ],
)
def test_bad_distribution_settings_are_named_before_anything_runs(overrides, expected):
    cfg = compose_config(["distribution=data_parallel", "backend=jax", *overrides])
    with pytest.raises(ConfigError, match=expected):
        check_config(cfg)


def launch(overrides, tmp_path: Path, workers: int = 2, **options):
    """``python -m keraslab.launch --workers <workers> -- <overrides>``, scratch under tmp_path."""
    return subprocess.run(
        launch_command(overrides, workers),
        cwd=ROOT,
        env=launch_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        **options,
    )


def launch_command(overrides, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "keraslab.launch", "--workers", str(workers), "--", *overrides]


def launch_env(tmp_path: Path) -> dict[str, str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "TMPDIR": str(scratch),
    }


def checkpoint_weights(path: Path) -> dict[str, np.ndarray]:
    """Every array in a ``.keras`` file's weights (model and optimizer), by its h5 path."""
    arrays = {}

    def keep(name, item):
        if isinstance(item, h5py.Dataset):
            arrays[name] = item[()]

    with (
        zipfile.ZipFile(path) as archive,
        archive.open("model.weights.h5") as raw,
        h5py.File(raw, "r") as weights,
    ):
        weights.visititems(keep)
    return arrays


@pytest.mark.parametrize(
    "optimizer",
    [[], EVERY_WRAPPER],
    ids=["adam", "every-wrapper"],
)
def test_two_workers_follow_one_process_with_the_same_global_batch(corpus, tmp_path, optimizer):
    overrides = [*SAME_CURVE, *optimizer, f"data.data_dir={corpus}"]
    single = run_script(
        [*overrides, f"hydra.run.dir={tmp_path / 'single'}"],
        f"sqlite:///{tmp_path}/single.db",
        env={"KERAS_BACKEND": "jax"},
    )
    assert single.returncode == 0, single.stderr[-3000:]
    launched = launch([*overrides, f"hydra.run.dir={tmp_path / 'chief'}"], tmp_path)
    assert launched.returncode == 0, launched.stderr[-3000:]

    client, runs = runs_of(f"sqlite:///{tmp_path}/mlflow.db")
    single_client, (one,) = runs_of(f"sqlite:///{tmp_path}/single.db")
    assert len(runs) == 1, "only the chief tracks: one MLflow run"
    (run,) = runs
    assert run.info.status == "FINISHED"
    assert run.data.tags["distribution"].startswith("data parallel: worker 0 of 2")
    for name in ("loss", "valid_loss", *(["valid_ema_loss"] if optimizer else [])):
        ours = [m.value for m in client.get_metric_history(run.info.run_id, name)]
        theirs = [m.value for m in single_client.get_metric_history(one.info.run_id, name)]
        assert len(ours) == len(theirs) == (20 if name == "loss" else 2)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, err_msg=name)
    assert run.data.metrics["test_accuracy"] == one.data.metrics["test_accuracy"]

    ours = checkpoint_weights(tmp_path / "chief" / "checkpoints" / "last.keras")
    theirs = checkpoint_weights(tmp_path / "single" / "checkpoints" / "last.keras")
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        np.testing.assert_allclose(value, theirs[name], rtol=1e-5, atol=1e-6, err_msg=name)
    # one set of checkpoints: the other worker's copies went with its scratch folder
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_launched_run_resumes_as_if_never_stopped(corpus, tmp_path):
    overrides = [*DEBUG, f"data.data_dir={corpus}"]
    first = launch([*overrides, "trainer.epochs=1", f"hydra.run.dir={tmp_path / 'a'}"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = launch([*overrides, "trainer.epochs=2", f"resume={tmp_path / 'a'}"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    whole = launch([*overrides, "trainer.epochs=2", f"hydra.run.dir={tmp_path / 'b'}"], tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]

    client, (a, b) = runs_of(f"sqlite:///{tmp_path}/mlflow.db")
    assert a.info.status == b.info.status == "FINISHED"
    for name in ("valid_loss", "loss"):
        ours = [m.value for m in client.get_metric_history(a.info.run_id, name)]
        theirs = [m.value for m in client.get_metric_history(b.info.run_id, name)]
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, err_msg=name)
    resumed_weights = checkpoint_weights(tmp_path / "a" / "checkpoints" / "last.keras")
    whole_weights = checkpoint_weights(tmp_path / "b" / "checkpoints" / "last.keras")
    for name, value in resumed_weights.items():
        np.testing.assert_allclose(value, whole_weights[name], rtol=1e-6, err_msg=name)


def test_a_killed_worker_fails_the_run_within_30_seconds(corpus, tmp_path):
    overrides = [
        *DEBUG,
        f"data.data_dir={corpus}",
        "trainer.epochs=10000",
        "trainer.log_every_n_steps=1",
        f"hydra.run.dir={tmp_path / 'chief'}",
    ]
    launcher, tree = training_launch(overrides, tmp_path, tmp_path / "chief")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    try:
        (worker,) = [p for p in tree if any("worker-1" in part for part in p.cmdline())]
        killed = time.monotonic()
        worker.send_signal(signal.SIGKILL)
        _, stderr = launcher.communicate(timeout=30)
        took = time.monotonic() - killed
    finally:
        launcher.kill()
    assert launcher.returncode == 1
    assert took <= 30
    (report,) = [line for line in stderr.splitlines() if line.startswith("keraslab.launch:")]
    assert report.startswith("keraslab.launch: worker 1 (pid"), report
    assert "killed by SIGKILL) failed" in report, report
    _, (run,) = runs_of(uri)
    assert run.info.status == "FAILED"
    assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert list((tmp_path / "tmp").iterdir()) == [], "the killed worker's scratch is gone too"


def training_launch(overrides, tmp_path: Path, run_dir: Path):
    """A launcher started in the background, once its run trains; and its process tree."""
    launcher = subprocess.Popen(
        launch_command(overrides),
        cwd=ROOT,
        env=launch_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_training(launcher, f"sqlite:///{tmp_path}/mlflow.db", run_dir)
    except BaseException:
        launcher.kill()
        raise
    return launcher, psutil.Process(launcher.pid).children(recursive=True)


def wait_for_training(launcher: subprocess.Popen, uri: str, run_dir: Path) -> None:
    """Until the launched run has logged a training loss; the store is read only once the
    chief has begun training (opening it while the chief creates it would race)."""
    deadline = time.monotonic() + 240
    while not ((run_dir / "checkpoints").is_dir() and _training(uri)):
        assert launcher.poll() is None and time.monotonic() < deadline, "never trained"
        time.sleep(1)


def _training(uri: str) -> bool:
    """Whether the launched run has logged a training loss yet."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("sentiment")
    if experiment is None:
        return False
    runs = client.search_runs([experiment.experiment_id])
    return bool(runs) and "loss" in runs[0].data.metrics


def test_ctrl_c_stops_every_worker_and_the_run_resumes(corpus, tmp_path):
    overrides = [*DEBUG, f"data.data_dir={corpus}", "trainer.log_every_n_steps=1"]
    endless = [*overrides, "trainer.epochs=10000", f"hydra.run.dir={tmp_path / 'a'}"]
    launcher, tree = training_launch(endless, tmp_path, tmp_path / "a")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    try:
        launcher.send_signal(signal.SIGINT)
        _, stderr = launcher.communicate(timeout=90)
    finally:
        launcher.kill()
    assert launcher.returncode == 130, stderr[-3000:]
    assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    _, (run,) = runs_of(uri)
    assert run.info.status == "KILLED"

    done = read_state(tmp_path / "a" / "checkpoints" / STATE_FILE).epochs_done
    epochs = f"trainer.epochs={done + 1}"
    resumed = launch([*overrides, epochs, f"resume={tmp_path / 'a'}"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    client, (run,) = runs_of(uri)
    assert run.info.status == "FINISHED"
    assert len(client.get_metric_history(run.info.run_id, "valid_loss")) == done + 1


def test_slurm_tasks_are_the_workers(monkeypatch):
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.delenv("KERASLAB_WORKERS", raising=False)
    monkeypatch.delenv("KERASLAB_WORKER_INDEX", raising=False)
    cfg = compose_config(["distribution=data_parallel", "backend=jax"])
    assert (cfg.distribution.workers, cfg.distribution.worker_index) == (4, 3)


def test_a_worker_that_fails_alone_stops_the_others_at_once(corpus, tmp_path):
    """The chief alone opens the MLflow store; the other worker waits for it in JAX's start-up."""
    env = {**launch_env(tmp_path), "MLFLOW_TRACKING_URI": "sqlite:////proc/nowhere/mlflow.db"}
    started = time.monotonic()
    result = subprocess.run(
        launch_command([*DEBUG, f"data.data_dir={corpus}", f"hydra.run.dir={tmp_path / 'a'}"]),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert time.monotonic() - started < 60
    assert "error: worker 0: the MLflow store sqlite:////proc/nowhere" in result.stderr
    assert "worker 0 (pid" in result.stderr and "exit status 2" in result.stderr


def test_the_launcher_names_the_worker_that_ended_first_not_the_one_it_took_down():
    """The chief's collectives fail within a poll interval of worker 1's death; reaping the
    two zombies in turn named the older child, the chief (a CI failure)."""
    # the chief, the older child, fails 50 ms after it sees worker 1 die (a zombie, or gone
    # once the launcher reaps it)
    took_down = "while grep -q '^State:.[^Z]' /proc/$pid/status 2>/dev/null; do :; done"
    chief = subprocess.Popen(
        ["sh", "-c", f"read pid; {took_down}; sleep 0.05; exit 1"], stdin=subprocess.PIPE, text=True
    )
    victim = subprocess.Popen(["sh", "-c", "sleep 0.5; kill -KILL $$"])
    chief.stdin.write(f"{victim.pid}\n")
    chief.stdin.close()
    workers = [launch_module._Worker(0, chief, None), launch_module._Worker(1, victim, None)]
    first = launch_module._first_failure(workers, interrupted=[])
    assert first.describe() == f"worker 1 (pid {victim.pid}, killed by SIGKILL)"
    chief.wait()
