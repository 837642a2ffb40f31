"""A callback that adds scores computed outside Keras (a decoded F1) to each epoch's logs."""

from collections.abc import Callable

import keras


class ValidationScores(keras.callbacks.Callback):
    """At each epoch's end, ``score(model)`` (name -> value, e.g. ``f1``) as ``val_<name>``
    in the logs, for the checkpoints and the tracker that run after it."""

    def __init__(self, score: Callable[[keras.Model], dict[str, float]]):
        super().__init__()
        self.score = score

    def on_epoch_end(self, epoch, logs=None):
        results = self.score(self.model)
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in results.items()})
