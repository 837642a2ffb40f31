"""Validation on the moving-average weights, beside the usual validation on the trained ones."""

from collections.abc import Callable

import keras

from keraslab.optimizers import ExponentialMovingAverage


class EmaValidation(keras.callbacks.Callback):
    """At the end of each epoch, ``evaluate()`` (the task's validation: name -> value) with the
    EMA weights swapped in.

    Adds ``val_ema_<metric>`` (``val_ema_loss``, ``val_ema_accuracy``, ...) to the epoch's logs,
    so the callbacks after this one (checkpoints, the tracker) see both sets of numbers. Training
    goes on with the raw weights, restored bit for bit.
    """

    def __init__(self, ema: ExponentialMovingAverage, evaluate: Callable[[], dict[str, float]]):
        super().__init__()
        self.ema = ema
        self.evaluate = evaluate

    def on_epoch_end(self, epoch, logs=None):
        with self.ema.averaged_weights():
            results = self.evaluate()
        if logs is not None:
            logs.update({f"val_ema_{name}": value for name, value in results.items()})
