"""Lookahead over any optimizer: slow weights pulled toward the fast ones every k updates."""

import keras
from keras import ops

from keraslab.optimizers.wrapper import OptimizerWrapper


@keras.saving.register_keras_serializable(package="keraslab")
class Lookahead(OptimizerWrapper):
    """Every ``k`` real updates: ``slow <- slow + alpha * (w - slow)``, then ``w <- slow``.

    The slow weights start as the weights themselves (zero-initialised slow weights would halve
    the weights at the first sync, as they did in the original library).
    """

    def __init__(self, inner, k: int = 5, alpha: float = 0.5, name=None):
        super().__init__(inner, name=name)
        self.k = k
        self.alpha = alpha

    def build(self, var_list):
        super().build(var_list)
        self.slow = self.add_optimizer_variables(var_list, "slow")

    def _apply(self, grads, variables):
        before = ops.copy(self.iterations)
        # Until the first real update the slow weights follow the weights (chosen here, not set
        # in build, which Keras may run inside a traced step); one assignment per slow weight.
        starts = [
            ops.where(ops.equal(before, 0), variable.value, self._slow(variable).value)
            for variable in variables
        ]
        self.inner.apply(grads, variables)
        after = self.iterations
        sync = ops.logical_and(after > before, ops.equal(ops.mod(after, self.k), 0))
        for variable, start in zip(variables, starts, strict=True):
            pulled = start + ops.cast(self.alpha, variable.dtype) * (variable.value - start)
            self._slow(variable).assign(ops.where(sync, pulled, start))
            variable.assign(ops.where(sync, pulled, variable.value))

    def _slow(self, variable):
        return self.slow[self._get_variable_index(variable)]

    def get_config(self):
        return {**super().get_config(), "k": self.k, "alpha": self.alpha}
