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
        # Until the first real update the slow weights follow the weights (set here, not in
        # build, which Keras may run inside a traced step).
        for variable in variables:
            slow = self.slow[self._get_variable_index(variable)]
            slow.assign(ops.where(ops.equal(before, 0), variable.value, slow.value))
        self.inner.apply(grads, variables)
        after = self.iterations
        sync = ops.logical_and(after > before, ops.equal(ops.mod(after, self.k), 0))
        for variable in variables:
            slow = self.slow[self._get_variable_index(variable)]
            pulled = slow.value + ops.cast(self.alpha, variable.dtype) * (
                variable.value - slow.value
            )
            slow.assign(ops.where(sync, pulled, slow.value))
            variable.assign(ops.where(sync, pulled, variable.value))

    def get_config(self):
        return {**super().get_config(), "k": self.k, "alpha": self.alpha}
