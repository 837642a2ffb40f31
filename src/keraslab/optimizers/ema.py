"""An exponential moving average of the weights, over any optimizer (and any other wrapper)."""

from collections.abc import Iterator
from contextlib import contextmanager

import keras
from keras import ops

from keraslab.config_checks import number
from keraslab.optimizers.wrapper import OptimizerWrapper, copy_values, require, run_if


@keras.saving.register_keras_serializable(package="keraslab")
class ExponentialMovingAverage(OptimizerWrapper):
    """After each real update: ``shadow <- m * shadow + (1 - m) * w``.

    ``m = decay``, or with ``warmup`` ``m = min(decay, (1 + t) / (10 + t))``, ``t`` the number of
    this wrapper's real updates before this one (``own_updates``). Shadows start as copies of
    the weights as they are before this wrapper's first update (also when it wraps an optimizer
    that has already trained), so they need no bias correction. Training always continues on the raw weights; :meth:`averaged_weights` puts the
    shadows in their place for evaluation or export and restores the raw ones bit for bit. The
    shadows are optimizer variables, so every checkpoint holds both weight sets. Put this wrapper
    outermost: with accumulation inside it, micro-steps do not move the average.
    """

    def __init__(self, inner, decay: float = 0.999, warmup: bool = False, name=None):
        require("ExponentialMovingAverage", "decay", decay, number(0.0, 1.0, high_inclusive=False))
        super().__init__(inner, name=name)
        self.decay = decay
        self.warmup = warmup

    def build(self, var_list):
        super().build(var_list)
        self.shadows = self.add_optimizer_variables(var_list, "average")
        self.own_updates = self.add_variable(
            (), initializer="zeros", dtype="int", name="own_updates"
        )

    def decay_at(self, updates_before):
        """``m`` for the update that follows this wrapper's ``updates_before`` real updates."""
        if not self.warmup:
            return ops.convert_to_tensor(self.decay, "float32")
        t = ops.cast(updates_before, "float32")
        return ops.minimum(self.decay, (1.0 + t) / (10.0 + t))

    def _apply(self, grads, variables):
        before = ops.copy(self.iterations)
        own_before = ops.copy(self.own_updates)
        shadows = [self._shadow(variable) for variable in variables]
        # The shadows start as the weights before this wrapper's first update (set here, not in
        # build, which Keras may run inside a traced step).
        run_if(ops.equal(own_before, 0), lambda: copy_values(variables, shadows), shadows)
        self.inner.apply(grads, variables)
        rate = 1.0 - self.decay_at(own_before)

        def average():  # shadow - (1 - m) (shadow - w) = m shadow + (1 - m) w
            for variable, shadow in zip(variables, shadows, strict=True):
                shadow.assign_sub(ops.cast(rate, shadow.dtype) * (shadow.value - variable.value))

        updated = self.iterations > before
        run_if(updated, average, shadows)
        self.own_updates.assign_add(ops.cast(updated, self.own_updates.dtype))

    def _shadow(self, variable):
        return self.shadows[self._get_variable_index(variable)]

    @contextmanager
    def averaged_weights(self) -> Iterator[None]:
        """Inside the context the trained variables hold the averages; after it, their own values.
        Before this wrapper's first update the averages are the weights: nothing is swapped."""
        if not self.built or int(ops.convert_to_numpy(self.own_updates)) == 0:
            yield
            return
        variables = self._trainable_variables
        raw = [ops.convert_to_numpy(v) for v in variables]
        for variable, shadow in zip(variables, self.shadows, strict=True):
            # A copy: on JAX a shared buffer would be freed when evaluation donates the weights.
            variable.assign(ops.convert_to_numpy(shadow))
        try:
            yield
        finally:
            for variable, value in zip(variables, raw, strict=True):
                variable.assign(value)

    def get_config(self):
        return {**super().get_config(), "decay": self.decay, "warmup": self.warmup}
