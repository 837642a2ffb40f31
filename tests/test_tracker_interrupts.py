"""Ctrl-C during a call to the MLflow store: the call finishes, then the run ends KILLED.

Before, a KeyboardInterrupt inside a metric write left the SQLite store locked, and marking the
run KILLED failed with "database is locked" (seen in tests/test_runs.py's Ctrl-C test)."""

import contextlib
import os
import signal
import time

import pytest

from keraslab.tracking.interrupts import interrupts_deferred, interrupts_never_dropped
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


def swallowing_ctrl_c() -> None:
    """A Ctrl-C inside code that catches everything, as Keras's log conversion does."""
    with contextlib.suppress(BaseException):
        ctrl_c()


def test_a_ctrl_c_that_code_swallowed_is_raised_again_when_the_block_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts_never_dropped() as pending:
        swallowing_ctrl_c()
        reached.append("after the swallowed one")
    assert reached == ["after the swallowed one"] and len(pending) == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_not_swallowed_is_raised_at_once_and_only_once():
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts_never_dropped():
        ctrl_c()
        reached.append("after")
    assert reached == []
    with interrupts_never_dropped() as pending:
        reached.append("no Ctrl-C")
    assert reached == ["no Ctrl-C"] and pending == []


def test_a_request_held_back_inside_is_raised_where_the_inner_block_ends():
    """Nested as in a run: training holds Ctrl-C back until the next step
    (:func:`interrupts_deferred`); one no step acted on is raised when training ends."""
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts_never_dropped() as pending:
        with interrupts_deferred():
            ctrl_c()
            reached.append("held back")
        reached.append("after training")
    assert reached == ["held back"] and len(pending) == 1


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


def test_a_ctrl_c_after_an_epochs_checkpoint_waits_until_the_epoch_is_tracked():
    """The Ctrl-C test's flake, made certain: an interrupt right after the checkpoint callbacks
    used to end the run before the tracking callback sent that epoch's step metrics, and the
    resumed run, starting after the checkpointed epoch, never sent them."""
    import keras
    import numpy as np

    from keraslab.training.callbacks import EpochEndHold

    events = []

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            events.append(f"checkpoint {epoch}")
            ctrl_c()

    class Tracking(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            events.append(f"begin {epoch}")

        def on_epoch_end(self, epoch, logs=None):
            events.append(f"tracked {epoch}")

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    hold = EpochEndHold()
    with pytest.raises(KeyboardInterrupt):
        try:
            model.fit(
                np.ones((4, 2)),
                np.ones((4, 1)),
                epochs=3,
                verbose=0,
                callbacks=[hold.begin, Checkpoint(), Tracking(), hold.end],
            )
        finally:
            hold.release()
    assert events == ["begin 0", "checkpoint 0", "tracked 0"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
