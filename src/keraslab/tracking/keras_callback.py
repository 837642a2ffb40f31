"""A Keras callback that sends training metrics to a tracker, stepped by optimizer updates."""

import keras
from keras import ops

from keraslab.optimizers import update_count

EPOCH_METRIC_NAMES = {
    "loss": "train_loss",
    "accuracy": "train_accuracy",
    "val_loss": "valid_loss",
    "val_accuracy": "valid_accuracy",
    "val_ema_loss": "valid_ema_loss",
    "val_ema_accuracy": "valid_ema_accuracy",
}


class TrackerCallback(keras.callbacks.Callback):
    """Every ``every_n_steps`` updates: ``loss`` (running mean of the epoch) and ``learning_rate``.
    Every epoch: ``train_loss``, ``train_accuracy``, ``valid_loss``, ``valid_accuracy`` and ``epoch``
    (and ``valid_ema_loss``, ``valid_ema_accuracy`` when validation also ran on EMA weights).

    The step of every metric is the number of optimizer updates so far, so runs with gradient
    accumulation line up with runs without it.
    """

    def __init__(self, tracker, every_n_steps: int):
        super().__init__()
        self.tracker = tracker
        self.every_n_steps = every_n_steps
        self._last_logged = 0

    def on_train_begin(self, logs=None):
        self._last_logged = update_count(self.model.optimizer)  # non-zero when a run resumes

    def on_train_batch_end(self, batch, logs=None):
        step = update_count(self.model.optimizer)
        if step // self.every_n_steps == self._last_logged // self.every_n_steps:
            return
        self._last_logged = step
        learning_rate = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.tracker.log_metrics({"loss": logs["loss"], "learning_rate": learning_rate}, step)

    def on_epoch_end(self, epoch, logs=None):
        metrics = {
            EPOCH_METRIC_NAMES.get(k, k): v
            for k, v in (logs or {}).items()
            if k in EPOCH_METRIC_NAMES
        }
        self.tracker.log_metrics(
            {**metrics, "epoch": epoch + 1}, update_count(self.model.optimizer)
        )
