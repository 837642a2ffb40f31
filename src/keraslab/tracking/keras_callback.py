"""A Keras callback that sends training metrics to a tracker, stepped by optimizer updates."""

import keras
from keras import ops

from keraslab.optimizers import update_count
from keraslab.tracking.metric_names import tracked_name


class TrackerCallback(keras.callbacks.Callback):
    """Every ``every_n_steps`` updates: ``loss`` (running mean of the epoch) and ``learning_rate``.
    Every epoch: every metric of the epoch's logs, named by :func:`tracked_name`
    (``train_loss``, ``valid_accuracy``, ``valid_ema_loss``, ...), and ``epoch``.

    The step of every metric is the number of optimizer updates so far, so runs with gradient
    accumulation line up with runs without it. The step metrics are held until the end of their
    epoch and sent after its checkpoint (this callback runs after the checkpoints): a run that
    stops mid-epoch and is resumed from the last checkpoint logs those steps once, not twice.
    """

    def __init__(self, tracker, every_n_steps: int):
        super().__init__()
        self.tracker = tracker
        self.every_n_steps = every_n_steps
        self._last_logged = 0
        self._held: list[tuple[dict, int]] = []

    def on_train_begin(self, logs=None):
        self._last_logged = update_count(self.model.optimizer)  # non-zero when a run resumes

    def on_train_batch_end(self, batch, logs=None):
        step = update_count(self.model.optimizer)
        if step // self.every_n_steps == self._last_logged // self.every_n_steps:
            return
        self._last_logged = step
        learning_rate = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._held.append(({"loss": float(logs["loss"]), "learning_rate": learning_rate}, step))

    def on_epoch_end(self, epoch, logs=None):
        for metrics, step in self._held:
            self.tracker.log_metrics(metrics, step)
        self._held.clear()
        metrics = {tracked_name(name): value for name, value in (logs or {}).items()}
        self.tracker.log_metrics(
            {**metrics, "epoch": epoch + 1}, update_count(self.model.optimizer)
        )
