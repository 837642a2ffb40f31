"""Stop a run at the first non-finite loss, before anything non-finite is checkpointed."""

import math

import keras
import numpy as np

from keraslab.errors import TrainingError
from keraslab.optimizers import update_count


class FiniteGuard(keras.callbacks.Callback):
    """Raises :class:`~keraslab.errors.TrainingError` when training stops being finite.

    After each batch: the loss (Keras's running mean of the epoch, which is non-finite from the
    first non-finite batch on). At the end of each epoch, before the checkpoint callbacks
    (this callback runs first): every logged metric and every weight, since the last update of
    an epoch can break the weights after its loss was computed. So no checkpoint ever holds a
    non-finite weight, and the last one written stays resumable.
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            self._stop(
                f"the training loss became {loss} at batch {batch + 1} of epoch {self.epoch + 1}"
            )

    def on_epoch_end(self, epoch, logs=None):
        broken = [name for name, value in (logs or {}).items() if not math.isfinite(float(value))]
        if broken:
            self._stop(f"epoch {epoch + 1} ended with non-finite {', '.join(broken)}")
        weights = [
            w.path
            for w in self.model.weights
            if not np.isfinite(keras.ops.convert_to_numpy(w)).all()
        ]
        if weights:
            self._stop(
                f"epoch {epoch + 1} ended with non-finite weights in {', '.join(weights[:5])}"
            )

    def _stop(self, what: str) -> None:
        saved = f"epoch {self.epoch}'s, whole and resumable" if self.epoch else "none yet"
        raise TrainingError(
            f"{what}, after {update_count(self.model.optimizer)} optimizer updates; training "
            f"stopped there and checkpointed none of it (the checkpoints hold {saved}). A lower "
            "optimizer.learning_rate or an optimizer.clipnorm may avoid it in a new run."
        )
