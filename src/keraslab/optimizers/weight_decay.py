"""Decoupled weight decay over any optimizer (AdamW's rule, with exclusions that work)."""

from collections.abc import Sequence

import keras
from keras import ops

from keraslab.config_checks import number
from keraslab.optimizers.patterns import NO_DECAY
from keraslab.optimizers.wrapper import OptimizerWrapper, matches_any, require, warn_if_no_match


@keras.saving.register_keras_serializable(package="keraslab")
class WeightDecay(OptimizerWrapper):
    """``w <- w - lr * u - lr * rate * w``: the inner update ``u`` plus a decay that bypasses it.

    ``lr`` is the inner optimizer's learning rate at this update (schedule included). Variables
    whose *path* (``layer_0/attention_LayerNorm/gamma``) matches a regex in ``exclude`` are not
    decayed; Keras's own ``exclude_from_weight_decay`` matches only the short name (``gamma``),
    so a pattern such as ``LayerNorm`` silently matches nothing there. The decay is applied before
    the inner update, which for optimizers whose update does not read ``w`` (Adam, SGD, RMSprop,
    Lion) is the rule above exactly; over plain Adam this is ``keras.optimizers.AdamW``.
    """

    def __init__(self, inner, rate: float = 0.01, exclude: Sequence[str] = NO_DECAY, name=None):
        require("WeightDecay", "rate", rate, number(0.0, 1.0))
        super().__init__(inner, name=name)
        self.rate = rate
        self.exclude = tuple(exclude)

    def build(self, var_list):
        super().build(var_list)
        warn_if_no_match("WeightDecay exclude", self.exclude, var_list)

    def _apply(self, grads, variables):
        shrink = self.inner.learning_rate * self.rate
        for gradient, variable in zip(grads, variables, strict=True):
            if gradient is not None and not matches_any(variable.path, self.exclude):
                variable.assign_sub(ops.cast(shrink, variable.dtype) * variable.value)
        self.inner.apply(grads, variables)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "exclude": list(self.exclude)}
