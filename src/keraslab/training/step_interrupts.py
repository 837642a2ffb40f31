"""Ctrl-C while training takes effect between steps, raised from our own code.

Python raises ``KeyboardInterrupt`` wherever the main thread is when the handler runs, and code
there can drop it: Keras converts each step's logs for the callbacks (``pythonify_logs``)
inside a bare ``try: ... except: pass``, and under JAX that is where the main thread waits for
the step, so Ctrl-C mostly lands there and training goes on as if no key was pressed. So while
training, the first SIGINT only records a request, and a callback raises ``KeyboardInterrupt``
at the next step boundary; a second SIGINT raises at once, wherever the process is, for a step
that never ends."""

from collections.abc import Iterator
from contextlib import contextmanager

import keras

from keraslab.tracking.interrupts import interrupts_deferred


class DeferredInterrupts(keras.callbacks.Callback):
    """SIGINT recorded as a request while :meth:`listening`; subclasses decide when a request
    stops training (by raising :meth:`stop`)."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: list = []

    @property
    def requested(self) -> bool:
        return bool(self._pending)

    @contextmanager
    def listening(self):
        """For the block's duration SIGINT is held back
        (:func:`~keraslab.tracking.interrupts.interrupts_deferred`): the first one sets
        ``requested``, a second one goes to the previous handler at once, and a request no step
        acted on is raised when the block ends."""
        with interrupts_deferred() as pending:
            self._pending = pending
            yield self

    @staticmethod
    def stop(where: str):
        raise KeyboardInterrupt(f"Ctrl-C: training stopped {where}")


class StopAtNextStep(DeferredInterrupts):
    """A process training on its own stops before the next training, validation or
    prediction step begins."""

    def _stop_if_requested(self, kind: str, batch: int) -> None:
        if self.requested:
            self.stop(f"before {kind} step {batch + 1}")

    def on_train_batch_begin(self, batch, logs=None):
        self._stop_if_requested("training", batch)

    def on_test_batch_begin(self, batch, logs=None):
        self._stop_if_requested("validation", batch)

    def on_predict_batch_begin(self, batch, logs=None):
        self._stop_if_requested("prediction", batch)


@contextmanager
def stops_at_steps(callbacks) -> Iterator[list[DeferredInterrupts]]:
    """The callbacks a ``fit`` adds so that Ctrl-C stops it at a step boundary: none where
    ``callbacks`` bring their own :class:`DeferredInterrupts` (already listening: several
    workers' :class:`~keraslab.distribution.stop_together.StopTogether`), else a
    :class:`StopAtNextStep` listening for the block's duration."""
    if any(isinstance(callback, DeferredInterrupts) for callback in callbacks):
        yield []
        return
    stop = StopAtNextStep()
    with stop.listening():
        yield [stop]
