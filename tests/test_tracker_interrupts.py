"""Ctrl-C during a call to the MLflow store: the call finishes, then the run ends KILLED.

Before, a KeyboardInterrupt inside a metric write left the SQLite store locked, and marking the
run KILLED failed with "database is locked" (seen in tests/test_runs.py's Ctrl-C test)."""

import os
import signal
import time

import pytest

from keraslab.tracking.interrupts import interrupts_deferred
from keraslab.tracking.mlflow_tracker import MlflowTracker


def ctrl_c() -> None:
    """SIGINT to this process, and time for Python to run its handler."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)


def test_a_ctrl_c_waits_for_the_block_and_a_second_one_does_not():
    finished = []
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        ctrl_c()
        finished.append("first")
    assert finished == ["first"]
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        ctrl_c()
        ctrl_c()
        finished.append("second")
    assert finished == ["first"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_inside_a_metric_write_lets_it_finish_and_the_run_ends_killed(
    tracking_uri, monkeypatch
):
    from mlflow import MlflowClient

    log_batch = MlflowClient.log_batch

    def interrupted_log_batch(self, *args, **kwargs):
        ctrl_c()
        return log_batch(self, *args, **kwargs)

    tracker = MlflowTracker(tracking_uri, "interrupted")
    with pytest.raises(KeyboardInterrupt), tracker.run({"a": 1}):
        monkeypatch.setattr(MlflowClient, "log_batch", interrupted_log_batch)
        tracker.log_metrics({"loss": 0.5}, step=3)
        pytest.fail("the Ctrl-C was not raised after the write")
    run = MlflowClient(tracking_uri).get_run(tracker.run_id)
    assert run.info.status == "KILLED"
    assert run.data.metrics == {"loss": 0.5}
