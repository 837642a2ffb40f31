"""A run whose process was killed outright (SIGKILL) stays RUNNING in MLflow; the next run opened
in the experiment ends it FAILED with a reason, leaves live runs and other hosts' runs alone, and
a resume of it goes on as this process's run. A sweep's job killed outright (a joblib worker the
OOM killer took) is ended FAILED when its sweep ends, not at some later run."""

import os
import signal
import subprocess
import sys

import pytest

from keraslab.tracking.hydra_job import HydraJob
from keraslab.tracking.mlflow_tracker import MlflowTracker

EXPERIMENT = "abandoned"
KILLED_MID_RUN = f"""
import os, signal, sys
from pathlib import Path
from keraslab.tracking.hydra_job import HydraJob
from keraslab.tracking.mlflow_tracker import MlflowTracker

# with a second argument, a sweep's job 0 under the parent recorded in that sweep folder
job = HydraJob(overrides=["a=1"], num=0, sweep_dir=Path(sys.argv[2])) if sys.argv[2:] else None
tracker = MlflowTracker(sys.argv[1], {EXPERIMENT!r})
with tracker.run({{"a": 1}}, job=job):
    print(tracker.run_id, os.getpid(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_outright(script: str, *args: str) -> tuple[str, str]:
    """Run ``script``, which opens a run and kills itself; the run's id and the process's pid."""
    killed = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=150
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    run_id, pid = killed.stdout.split()
    return run_id, pid


@pytest.mark.timeout(180)
def test_a_sweeps_job_killed_outright_is_failed_when_the_sweep_ends(tracking_uri, tmp_path):
    from mlflow import MlflowClient

    sweep = MlflowTracker(tracking_uri, EXPERIMENT)
    parent = sweep.start_parent(HydraJob(sweep_dir=tmp_path / "sweep"), {"a": "1,2"})
    run_id, pid = killed_outright(KILLED_MID_RUN, tracking_uri, str(tmp_path / "sweep"))
    client = MlflowClient(tracking_uri)
    assert client.get_run(run_id).data.tags["mlflow.parentRunId"] == parent

    assert sweep.end_parent(parent) == "FAILED"
    job = client.get_run(run_id)
    assert job.info.status == "FAILED"
    assert f"process {pid} on " in job.data.tags["error"]
    assert client.get_run(parent).info.status == "FAILED"


@pytest.mark.timeout(180)
def test_a_run_killed_outright_is_failed_by_the_next_run_and_can_be_resumed(tracking_uri):
    from mlflow import MlflowClient

    run_id, pid = killed_outright(KILLED_MID_RUN, tracking_uri)
    client = MlflowClient(tracking_uri)
    assert client.get_run(run_id).info.status == "RUNNING"
    assert client.get_run(run_id).data.tags["pid"] == pid
    elsewhere = client.create_run(
        client.get_experiment_by_name(EXPERIMENT).experiment_id,
        tags={"host": "another-host", "pid": pid},
    ).info.run_id

    live = MlflowTracker(tracking_uri, EXPERIMENT)
    with live.run({"b": 2}):
        killed_run = client.get_run(run_id)
        assert killed_run.info.status == "FAILED"
        assert f"process {pid} on " in killed_run.data.tags["error"]
        assert "ended without closing this run" in killed_run.data.tags["error"]
        with MlflowTracker(tracking_uri, EXPERIMENT).run({"c": 3}):
            assert client.get_run(live.run_id).info.status == "RUNNING"
    assert client.get_run(live.run_id).info.status == "FINISHED"
    assert client.get_run(elsewhere).info.status == "RUNNING"

    with MlflowTracker(tracking_uri, EXPERIMENT).run({}, resume_run_id=run_id):
        resumed = client.get_run(run_id)
        assert resumed.info.status == "RUNNING"
        assert resumed.data.tags["pid"] == str(os.getpid()) and "error" not in resumed.data.tags
    assert client.get_run(run_id).info.status == "FINISHED"
