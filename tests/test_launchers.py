"""Hydra launchers: ``hydra/launcher=joblib`` runs a sweep's jobs in parallel worker processes,
``hydra/launcher=ray_cluster`` as tasks on a Ray cluster (a head the test starts on 127.0.0.1),
each with the same results as the basic launcher, one MLflow parent over them and its
comparison."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import DEBUG, run_script, runs_of
from ui_server import free_port

RATES = ["optimizer.learning_rate=1e-3,2e-3,3e-3,4e-3"]


def sweep(corpus, store, folder, *launcher):
    result = run_script(
        ["-m", *DEBUG, f"data.data_dir={corpus}", *RATES, f"hydra.sweep.dir={folder}", *launcher],
        store,
        timeout=600,
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


def test_joblib_runs_the_jobs_in_two_processes_with_the_basic_launchers_results(corpus, tmp_path):
    basic = sweep(corpus, f"sqlite:///{tmp_path}/basic.db", tmp_path / "basic")
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
    corpus, tmp_path
):
    ray = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    sessions = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    head = [
        ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={sessions}",
    ]  # fmt: skip
    started = subprocess.run(head, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        os.environ["RAY_ADDRESS"] = f"127.0.0.1:{port}"
        client, parent, children, losses, stdout = sweep(
            corpus,
            f"sqlite:///{tmp_path}/ray.db",
            tmp_path / "ray_sweep",
            "hydra/launcher=ray_cluster",
        )
    finally:
        del os.environ["RAY_ADDRESS"]
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)
        shutil.rmtree(sessions, ignore_errors=True)
    basic = sweep(corpus, f"sqlite:///{tmp_path}/basic.db", tmp_path / "basic")
    assert len(children) == 4 and {r.info.status for r in children} == {"FINISHED"}
    assert all(r.data.tags["pid"] != str(os.getpid()) for r in children)
    assert losses == basic[3] and len(losses) == 4
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    assert "best marked *" in stdout
