"""Layer adaptation (a per-variable trust ratio) over any optimizer: LAMB's rule, generalised."""

from collections.abc import Sequence

import keras
from keras import ops

from keraslab.optimizers.patterns import NO_DECAY
from keraslab.optimizers.wrapper import OptimizerWrapper, matches_any, warn_if_no_match


@keras.saving.register_keras_serializable(package="keraslab")
class LayerAdaptation(OptimizerWrapper):
    """Scale each variable's update by ``r = ||w|| / ||dw / lr||``: ``w <- w + r * dw``.

    ``dw`` is the update the inner optimizer proposes (everything it would change ``w`` by,
    weight decay included when a :class:`WeightDecay` sits inside: that is LAMB), ``lr`` its
    learning rate at this update, and ``r = 1`` where either norm is 0. Variables whose path
    matches ``exclude`` take the inner update as it is.

    Order matters: ``LayerAdaptation(WeightDecay(Adam))`` puts the decay inside the trust ratio
    (the LAMB paper, bert4keras); ``WeightDecay(LayerAdaptation(Adam))`` puts it outside, which is
    what ``keras.optimizers.Lamb`` does.
    """

    def __init__(self, inner, exclude: Sequence[str] = NO_DECAY, name=None):
        super().__init__(inner, name=name)
        self.exclude = tuple(exclude)

    def build(self, var_list):
        super().build(var_list)
        warn_if_no_match("LayerAdaptation exclude", self.exclude, var_list)

    def _apply(self, grads, variables):
        learning_rate = self.inner.learning_rate
        adapted = [
            v
            for g, v in zip(grads, variables, strict=True)
            if g is not None and not matches_any(v.path, self.exclude)
        ]
        before = [ops.copy(v.value) for v in adapted]
        self.inner.apply(grads, variables)
        for variable, old in zip(adapted, before, strict=True):
            step = variable.value - old
            lr = ops.cast(learning_rate, variable.dtype)
            weight_norm, step_norm = (
                ops.norm(ops.reshape(old, (-1,))),
                ops.norm(ops.reshape(step, (-1,))),
            )
            # r = ||w|| / ||dw / lr|| = lr * ||w|| / ||dw||
            usable = ops.logical_and(weight_norm > 0, step_norm > 0)
            ratio = ops.where(usable, lr * weight_norm / ops.where(usable, step_norm, 1), 1)
            variable.assign(old + ratio * step)

    def get_config(self):
        return {**super().get_config(), "exclude": list(self.exclude)}
