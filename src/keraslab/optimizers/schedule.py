"""A piecewise-linear learning-rate multiplier, counted in real updates."""

from collections.abc import Mapping
from itertools import pairwise

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keraslab")
class PiecewiseLinear(keras.optimizers.schedules.LearningRateSchedule):
    """``learning_rate * m(t)``, ``m`` linear between ``points`` ``{step: multiplier}``.

    ``(0, 0)`` is prepended unless step 0 is given, and the last multiplier holds after the last
    point: ``{1000: 1, 2000: 0.1}`` warms up over 1000 updates, then decays to a tenth by 2000.
    It is a schedule rather than a wrapper because Keras evaluates it at the base optimizer's own
    step counter, which under :class:`~keraslab.optimizers.GradientAccumulation` counts real
    updates (Keras's built-in accumulation feeds schedules the micro-step count).
    """

    def __init__(self, learning_rate: float, points: Mapping):
        self.learning_rate = float(learning_rate)
        points = {int(step): float(value) for step, value in points.items()}
        if not points or any(step < 0 for step in points):
            raise ValueError(
                f"schedule points must be a non-empty {{step >= 0: multiplier}}, got {points}"
            )
        merged = points if 0 in points else {0: 0.0, **points}
        self.points = dict(sorted(merged.items()))

    def multiplier(self, step):
        corners = list(self.points.items())
        step = ops.cast(step, "float32")
        value = ops.convert_to_tensor(corners[-1][1], "float32")
        # From the last segment back to the first, so the segment containing step wins.
        for (left, low), (right, high) in reversed(list(pairwise(corners))):
            inside = step < right
            interpolated = low + (high - low) * (step - left) / (right - left)
            value = ops.where(inside, interpolated, value)
        return value

    def __call__(self, step):
        return self.learning_rate * self.multiplier(step)

    def get_config(self):
        points = {str(step): value for step, value in self.points.items()}
        return {"learning_rate": self.learning_rate, "points": points}
