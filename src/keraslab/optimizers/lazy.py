"""Lazy updates over any optimizer: rows that got no gradient stay as they are."""

from collections.abc import Sequence

import keras
from keras import ops

from keraslab.optimizers.wrapper import OptimizerWrapper, matches_any, warn_if_no_match


@keras.saving.register_keras_serializable(package="keraslab")
class LazyUpdates(OptimizerWrapper):
    """For variables whose path matches ``include`` (embedding tables): row ``i`` keeps its value
    when row ``i`` of the gradient is all zero, whatever the inner optimizer's momentum says.

    Only the variables change lazily; the inner optimizer's own state (Adam's moments) is updated
    as usual.
    """

    def __init__(self, inner, include: Sequence[str] = ("embeddings",), name=None):
        super().__init__(inner, name=name)
        self.include = tuple(include)

    def build(self, var_list):
        super().build(var_list)
        warn_if_no_match("LazyUpdates include", self.include, var_list)

    def _apply(self, grads, variables):
        lazy = [
            (g, v)
            for g, v in zip(grads, variables, strict=True)
            if g is not None and len(v.shape) >= 2 and matches_any(v.path, self.include)
        ]
        before = [ops.copy(v.value) for _, v in lazy]
        self.inner.apply(grads, variables)
        for (gradient, variable), old in zip(lazy, before, strict=True):
            row_axes = tuple(range(1, len(variable.shape)))
            touched = ops.any(ops.not_equal(gradient, 0), axis=row_axes, keepdims=True)
            variable.assign(ops.where(touched, variable.value, old))

    def get_config(self):
        return {**super().get_config(), "include": list(self.include)}
