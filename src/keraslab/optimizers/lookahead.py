"""Lookahead over any optimizer: slow weights pulled toward the fast ones every k updates."""

import keras
from keras import ops

from keraslab.config_checks import integer, number
from keraslab.optimizers.wrapper import OptimizerWrapper, copy_values, require, run_if


@keras.saving.register_keras_serializable(package="keraslab")
class Lookahead(OptimizerWrapper):
    """Every ``k`` real updates: ``slow <- slow + alpha * (w - slow)``, then ``w <- slow``.

    The slow weights start as the weights themselves (zero-initialised slow weights would halve
    the weights at the first sync, as they did in the original library), copied before this
    wrapper's first update; ``k`` counts this wrapper's own updates (``own_updates``), so
    wrapping an optimizer that has already trained starts from its weights too.
    """

    def __init__(self, inner, k: int = 5, alpha: float = 0.5, name=None):
        require("Lookahead", "k", k, integer(1))
        require("Lookahead", "alpha", alpha, number(0.0, 1.0, low_inclusive=False))
        super().__init__(inner, name=name)
        self.k = k
        self.alpha = alpha

    def build(self, var_list):
        super().build(var_list)
        self.slow = self.add_optimizer_variables(var_list, "slow")
        self.own_updates = self.add_variable(
            (), initializer="zeros", dtype="int", name="own_updates"
        )

    def _apply(self, grads, variables):
        before = ops.copy(self.iterations)
        slows = [self._slow(variable) for variable in variables]
        # The slow weights start as the weights before this wrapper's first update (set here,
        # not in build, which Keras may run inside a traced step).
        run_if(ops.equal(self.own_updates, 0), lambda: copy_values(variables, slows), slows)
        self.inner.apply(grads, variables)
        updated = self.iterations > before
        self.own_updates.assign_add(ops.cast(updated, self.own_updates.dtype))
        sync = ops.logical_and(updated, ops.equal(ops.mod(self.own_updates, self.k), 0))

        def pull():
            for variable, slow in zip(variables, slows, strict=True):
                alpha = ops.cast(self.alpha, variable.dtype)
                slow.assign(slow.value + alpha * (variable.value - slow.value))
                variable.assign(slow.value)

        run_if(sync, pull, [*slows, *variables])

    def _slow(self, variable):
        return self.slow[self._get_variable_index(variable)]

    def get_config(self):
        return {**super().get_config(), "k": self.k, "alpha": self.alpha}
