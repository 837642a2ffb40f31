"""Hydra launchers: ``hydra/launcher=joblib`` runs a sweep's jobs in parallel worker processes,
``hydra/launcher=ray_cluster`` as tasks on a Ray cluster (a head the test starts on 127.0.0.1),
each with the same results as the basic launcher, one MLflow parent over them and its
comparison. ``hydra/launcher=slurm`` (submitit) cannot run here: its local twin,
``submitit_local``, runs the same launcher code with the same results, and the SLURM config
composes with the environment every job needs."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import DEBUG, ROOT, run_script, runs_of
from ui_server import free_port

RATES = ["optimizer.learning_rate=1e-3,2e-3,3e-3,4e-3"]


def sweep(corpus, store, folder, *launcher, env=None):
    result = run_script(
        ["-m", *DEBUG, f"data.data_dir={corpus}", *RATES, f"hydra.sweep.dir={folder}", *launcher],
        store,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client, runs = runs_of(store)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    losses = {
        r.data.params["optimizer.learning_rate"]: [
            (m.step, m.value) for m in client.get_metric_history(r.info.run_id, "loss")
        ]
        for r in children
    }
    return client, parent, children, losses, result.stdout


@pytest.fixture(scope="module")
def basic(corpus, tmp_path_factory):
    """The sweep under Hydra's basic launcher: the results every other launcher must give."""
    folder = tmp_path_factory.mktemp("basic")
    return sweep(corpus, f"sqlite:///{folder}/basic.db", folder / "sweep")


def test_joblib_runs_the_jobs_in_two_processes_with_the_basic_launchers_results(
    corpus, tmp_path, basic
):
    client, parent, children, losses, stdout = sweep(
        corpus,
        f"sqlite:///{tmp_path}/joblib.db",
        tmp_path / "joblib",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
    )
    assert len(children) == 4 and {r.info.status for r in children} == {"FINISHED"}
    assert len({r.data.tags["pid"] for r in children}) == 2, "two worker processes"
    assert losses == basic[3] and len(losses) == 4
    for ours, theirs in zip(
        sorted(children, key=lambda r: r.data.tags["job.num"]),
        sorted(basic[2], key=lambda r: r.data.tags["job.num"]),
        strict=True,
    ):
        assert ours.data.metrics["test_loss"] == theirs.data.metrics["test_loss"]
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    assert "best marked *" in stdout
    assert (tmp_path / "joblib" / "comparison" / "comparison.md").is_file()


def test_the_ray_launcher_on_a_head_at_127_0_0_1_gives_the_basic_launchers_results(
    corpus, tmp_path, basic
):
    """The head and the sweep get a home folder of their own: Ray 2.60 writes
    ``~/.ray/auth_token`` whenever ``ray.init()`` starts a local Ray (``hydra/launcher=ray``),
    and a driver that finds that file fails against a head started without token
    authentication (``InvalidAuthToken``)."""
    ray = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    sessions = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    home = {"HOME": str(tmp_path / "home")}
    head = [
        ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={sessions}",
    ]  # fmt: skip
    started = subprocess.run(
        head, capture_output=True, text=True, timeout=120, env={**os.environ, **home}
    )
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        os.environ["RAY_ADDRESS"] = f"127.0.0.1:{port}"
        client, parent, children, losses, stdout = sweep(
            corpus,
            f"sqlite:///{tmp_path}/ray.db",
            tmp_path / "ray_sweep",
            "hydra/launcher=ray_cluster",
            env=home,
        )
    finally:
        del os.environ["RAY_ADDRESS"]
        subprocess.run(
            [ray, "stop", "--force"], capture_output=True, timeout=120, env={**os.environ, **home}
        )
        shutil.rmtree(sessions, ignore_errors=True)
    assert len(children) == 4 and {r.info.status for r in children} == {"FINISHED"}
    assert all(r.data.tags["pid"] != str(os.getpid()) for r in children)
    assert losses == basic[3] and len(losses) == 4
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    assert "best marked *" in stdout


def test_submitit_runs_the_jobs_as_submitted_processes_with_the_basic_launchers_results(
    corpus, tmp_path, basic
):
    client, parent, children, losses, _ = sweep(
        corpus,
        f"sqlite:///{tmp_path}/submitit.db",
        tmp_path / "sweep",
        "hydra/launcher=submitit_local",
    )
    assert len(children) == 4 and {r.info.status for r in children} == {"FINISHED"}
    assert losses == basic[3]
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    assert (tmp_path / "sweep" / ".submitit").is_dir()


def test_the_slurm_config_gives_each_job_the_project_and_the_store(monkeypatch):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////shared/mlflow.db")
    overrides = ["hydra/launcher=slurm", "hydra.launcher.partition=gpu"]
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        config = compose("config", overrides=overrides, return_hydra_config=True)
    launcher = config.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.partition == "gpu" and launcher.nodes == 1
    assert OmegaConf.to_container(launcher.setup, resolve=True) == [
        f"export KERASLAB_ROOT={os.environ['KERASLAB_ROOT']}",
        "export MLFLOW_TRACKING_URI=sqlite:////shared/mlflow.db",
    ]
