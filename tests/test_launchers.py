"""Hydra launchers: ``hydra/launcher=joblib`` runs a sweep's jobs in parallel worker processes,
as ``hydra/launcher=forkserver`` does with workers forked from a server that has the stack imported,
``hydra/launcher=ray_cluster`` as tasks on a Ray cluster (a head the test starts on 127.0.0.1),
each with the same results as the basic launcher, one MLflow parent over them and its
comparison. ``hydra/launcher=slurm`` (submitit) cannot run here: its local twin,
``submitit_local``, runs the same launcher code with the same results, and the SLURM config
composes with the environment every job needs."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from conftest import DEBUG, ROOT, run_script, runs_of
from omegaconf import OmegaConf
from process_helpers import wait_until_gone
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


@pytest.mark.parametrize("launcher", ["joblib", "forkserver"])
def test_local_workers_run_the_jobs_in_two_processes_with_the_basic_launchers_results(
    corpus, tmp_path, basic, launcher
):
    client, parent, children, losses, stdout = sweep(
        corpus,
        f"sqlite:///{tmp_path}/{launcher}.db",
        tmp_path / launcher,
        f"hydra/launcher={launcher}",
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
    assert (tmp_path / launcher / "comparison" / "comparison.md").is_file()


def _imported_and_parent() -> tuple[set[str], int]:
    return set(sys.modules), os.getppid()


def test_forkserver_workers_start_with_the_stack_imported_by_a_server_beside_the_sweep():
    """A worker is forked from the server, not from the sweep's process, and has Keras, MLflow
    and the run's module before its first job, which never imports them itself."""
    from concurrent.futures import ProcessPoolExecutor

    from hydra_plugins.keraslab_forkserver_launcher import start_server, stop_server

    context = start_server(["keraslab.worker_start"])
    try:
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            imported, parent = pool.submit(_imported_and_parent).result(timeout=300)
    finally:
        stop_server()
    assert {"keras", "mlflow", "keraslab.experiment"} <= imported
    assert parent != os.getpid()


def test_a_forkserver_sweep_over_backends_preloads_no_keras():
    """One process holds one backend: a server with Keras loaded would give each worker its
    backend, whatever its job asks for."""
    from hydra_plugins.keraslab_forkserver_launcher import server_modules

    def config(task: list[str]):
        return OmegaConf.create(
            {
                "hydra": {
                    "overrides": {"task": task},
                    "sweeper": {"params": None},
                    "launcher": {"preload": ["keraslab.worker_start"]},
                }
            }
        )

    assert server_modules(config(["optimizer.learning_rate=1e-3,2e-3"])) == [
        "keraslab.worker_start"
    ]
    without_keras = server_modules(config(["backend=tensorflow,jax"]))
    imports = f"import sys, {', '.join(without_keras)}; print('keras' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", imports], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr[-2000:]
    assert server_modules(config(["backend=jax"])) == ["keraslab.worker_start"]


@pytest.mark.parametrize("n_jobs", ["0", "-2", "two"])
def test_a_bad_worker_count_stops_the_sweep_before_any_run(corpus, tmp_path, n_jobs):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    result = run_script(
        ["-m", *DEBUG, f"data.data_dir={corpus}", *RATES, f"hydra.sweep.dir={tmp_path}/sweep",
         "hydra/launcher=forkserver", f"hydra.launcher.n_jobs={n_jobs}"],
        store,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"hydra.launcher.n_jobs={n_jobs}:" in result.stderr.replace("'", "")
    assert "expected the number of worker processes" in result.stderr
    assert not (tmp_path / "sweep" / "0").exists()


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


def test_ctrl_c_ends_a_forkserver_sweeps_running_jobs_killed_and_starts_no_other(corpus, tmp_path):
    """Ctrl-C at a terminal reaches the sweep's whole process group: the two running jobs end
    KILLED with their checkpoints, the two queued jobs never start, and no process of the
    sweep (its server, its workers) outlives it."""
    store = f"sqlite:///{tmp_path}/mlflow.db"
    folder = tmp_path / "sweep"
    command = [
        sys.executable, str(ROOT / "scripts" / "run.py"), "-m", *DEBUG, f"data.data_dir={corpus}",
        *RATES, "trainer.epochs=1000", f"hydra.sweep.dir={folder}", "hydra/launcher=forkserver",
        "hydra.launcher.n_jobs=2",
    ]  # fmt: skip
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "TF_CPP_MIN_LOG_LEVEL": "3"}
    sweep_process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        checkpoints = [folder / str(job) / "checkpoints" / "state.json" for job in (0, 1)]
        while time.monotonic() < deadline and not all(path.exists() for path in checkpoints):
            time.sleep(0.5)
        group = psutil.Process(sweep_process.pid).children(recursive=True)
        os.killpg(sweep_process.pid, signal.SIGINT)
        _, stderr = sweep_process.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sweep_process.pid, signal.SIGKILL)
    assert sweep_process.returncode != 0
    assert wait_until_gone([process.pid for process in group]) == [], stderr[-3000:]
    _, runs = runs_of(store)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.data.tags["job.num"] for r in children) == ["0", "1"], stderr[-3000:]
    assert {r.info.status for r in children} == {"KILLED"}
    assert parent.info.status != "RUNNING"
    assert not (folder / "2").exists() and not (folder / "3").exists()
