"""Ctrl-C while training stops the run at the next step, even where the interrupted code loses
the ``KeyboardInterrupt`` raised inside it.

The minimal case, seen in CI under JAX (tests/test_runs.py's Ctrl-C test): SIGINT came while
Keras converted a step's logs for the callbacks (``pythonify_logs``, where the JAX main thread
waits for the step), inside a bare ``try: ... except: pass``; Keras dropped the
``KeyboardInterrupt`` and the run trained on for the minute until the test gave up."""

import signal
import sys

import keras
import numpy as np
import pytest
from keras.src import backend
from test_tracker_interrupts import ctrl_c

from keraslab.tracking.interrupts import interrupts_deferred
from keraslab.training.step_interrupts import StopAtNextStep


def ctrl_c_in_log_conversion(monkeypatch) -> list:
    """Once the returned list holds anything, the next conversion of a tensor inside Keras's
    ``pythonify_logs`` (its bare ``except``) sends SIGINT, and the list is emptied."""
    armed, convert = [], backend.convert_to_numpy

    def converting(x):
        if armed and sys._getframe(1).f_code.co_name == "pythonify_logs":
            armed.clear()
            ctrl_c()
        return convert(x)

    monkeypatch.setattr(backend, "convert_to_numpy", converting)
    return armed


class CtrlCWhileKerasConvertsLogs(keras.callbacks.Callback):
    """Ctrl-C in the conversion of the logs of training step ``at`` of the first epoch (or of
    its validation step ``at``)."""

    def __init__(self, monkeypatch, at: int, validation: bool = False):
        super().__init__()
        self.at, self.validation, self.epoch = at, validation, 0
        self.armed = ctrl_c_in_log_conversion(monkeypatch)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        if not self.validation and (self.epoch, batch) == (0, self.at):
            self.armed.append(batch)

    def on_test_batch_begin(self, batch, logs=None):
        if self.validation and (self.epoch, batch) == (0, self.at):
            self.armed.append(batch)


class StepsBegun(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train, self.test = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.train.append(batch)

    def on_test_batch_begin(self, batch, logs=None):
        self.test.append(batch)


def fit(callbacks, epochs: int = 3):
    """A small regression fitted for ``epochs`` of 4 steps, with 2 validation steps each."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=epochs,
        validation_data=(x[:16], y[:16]),
        verbose=0,
        callbacks=callbacks,
    )


@pytest.mark.parametrize(
    ("where", "stopped_at"),
    [
        ({"at": 1}, [([0, 1], []), ([0, 1, 2], [])]),
        ({"at": 0, "validation": True}, [([0, 1, 2, 3], [0]), ([0, 1, 2, 3], [0, 1])]),
    ],
    ids=["in a training step", "in a validation step"],
)
def test_a_ctrl_c_that_keras_drops_still_stops_training_at_the_next_step(
    where, stopped_at, monkeypatch
):
    """Where no callback of the fit handles batch ends, Keras converts a step's logs in a
    thread of its own, and the request may come only after the next step began: training
    stops then before the one after (3 epochs of 4 steps and 2 validation steps each)."""
    swallowed, begun = CtrlCWhileKerasConvertsLogs(monkeypatch, **where), StepsBegun()
    stop = StopAtNextStep()
    stopped = pytest.raises(KeyboardInterrupt, match="Ctrl-C: training stopped before")
    with stopped, stop.listening():
        fit([stop, begun, swallowed])
    assert (begun.train, begun.test) in stopped_at
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_a_ctrl_c_training_runs_to_its_end():
    begun = StepsBegun()
    stop = StopAtNextStep()
    with stop.listening():
        fit([stop, begun], epochs=2)
    assert (begun.train, begun.test) == ([0, 1, 2, 3] * 2, [0, 1] * 2)


def test_a_second_ctrl_c_raises_at_once_where_the_process_is():
    reached = []
    with pytest.raises(KeyboardInterrupt), StopAtNextStep().listening():
        ctrl_c()
        reached.append("after the first")
        ctrl_c()
        reached.append("after the second")
    assert reached == ["after the first"]


def test_a_ctrl_c_after_the_last_step_is_raised_when_listening_ends():
    with pytest.raises(KeyboardInterrupt):
        with StopAtNextStep().listening() as stop:
            ctrl_c()
        assert stop.requested
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_held_back_over_a_checkpoint_becomes_a_request_for_the_next_step():
    with pytest.raises(KeyboardInterrupt), StopAtNextStep().listening() as stop:
        with interrupts_deferred():
            ctrl_c()
        assert stop.requested  # nothing raised between the held block and the next step
        stop.on_train_batch_begin(0)


def test_training_in_another_thread_keeps_sigint_as_it_was():
    """Some launchers run a job outside the main thread, where no handler can be set."""
    from concurrent.futures import ThreadPoolExecutor

    def listen_and_fit():
        begun = StepsBegun()
        with StopAtNextStep().listening() as stop:
            fit([stop, begun], epochs=1)
        return begun.train, signal.getsignal(signal.SIGINT)

    with ThreadPoolExecutor(1) as pool:
        steps, handler = pool.submit(listen_and_fit).result()
    assert steps == [0, 1, 2, 3] and handler is signal.default_int_handler


def ctrl_c_in_log_conversion_during(monkeypatch, owner, name: str) -> None:
    """Replace ``owner.name`` by the same function, during which the first log conversion of
    Keras sends SIGINT (:func:`ctrl_c_in_log_conversion`)."""
    armed, scoring = ctrl_c_in_log_conversion(monkeypatch), getattr(owner, name)

    def armed_scoring(*args, **kwargs):
        armed.append(name)
        try:
            return scoring(*args, **kwargs)
        finally:
            armed.clear()

    monkeypatch.setattr(owner, name, armed_scoring)


def test_a_ctrl_c_that_keras_drops_while_scoring_the_test_split_still_kills_the_run(
    corpus, tmp_path, monkeypatch
):
    """After training, the run scores its best checkpoint on the test split through Keras's
    ``evaluate``, which converts its logs inside the same bare ``except``: a Ctrl-C landing
    there was dropped and the run ended FINISHED. It must end KILLED, with the interrupt
    raised out of the run."""
    from conftest import DEBUG, compose_config, runs_of

    from keraslab import evaluation
    from keraslab.experiment import run_experiment

    ctrl_c_in_log_conversion_during(monkeypatch, evaluation, "split_results")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = compose_config(
        [
            *DEBUG,
            f"data.data_dir={corpus}",
            f"paths.run_dir={tmp_path / 'run'}",
            f"logger.tracking_uri={store}",
            "logger.system_metrics=false",
        ]
    )
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg)
    assert runs_of(store)[1][-1].info.status == "KILLED"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
