"""Gradient accumulation over any optimizer: n micro-batches per real update."""

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from keraslab.config_checks import integer
from keraslab.optimizers.wrapper import OptimizerWrapper, require, run_if


@keras.saving.register_keras_serializable(package="keraslab")
class GradientAccumulation(OptimizerWrapper):
    """Apply ``g = sum_i s_i g_i / sum_i s_i`` once every ``steps`` micro-batches.

    ``s_i`` is micro-batch ``i``'s size: 1 each unless :meth:`set_micro_batch_sizes` gave the
    sizes of an epoch's batches, in which case a short last batch counts for what it holds, and
    the update equals one on the whole window's samples. Between updates the inner optimizer is
    not called: its step counter, its schedule, its moments, and every wrapper outside this one
    (lookahead, EMA) advance only on real updates. The sizes are part of the config, so a saved
    and reloaded optimizer weighs a short batch as the original did.
    """

    def __init__(
        self, inner, steps: int = 2, micro_batch_sizes: Sequence[float] | None = None, name=None
    ):
        require("GradientAccumulation", "steps", steps, integer(1))
        super().__init__(inner, name=name)
        self.steps = steps
        self.micro_batch_sizes: np.ndarray | None = None
        if micro_batch_sizes is not None:
            self.set_micro_batch_sizes(micro_batch_sizes)

    def set_micro_batch_sizes(self, sizes: Sequence[float]) -> None:
        """Sizes of the batches of one epoch, in order (set before ``fit`` traces its step)."""
        self.micro_batch_sizes = np.asarray(sizes, dtype="float32")

    def build(self, var_list):
        super().build(var_list)
        self.sums = self.add_optimizer_variables(var_list, "accumulated")
        self.weight = self.add_variable((), initializer="zeros", name="accumulated_weight")
        self.micro_step = self.add_variable((), initializer="zeros", dtype="int", name="micro_step")

    def _micro_batch_size(self):
        if self.micro_batch_sizes is None:
            return ops.ones((), self.weight.dtype)
        index = ops.mod(self.micro_step.value, len(self.micro_batch_sizes))
        sizes = ops.convert_to_tensor(self.micro_batch_sizes, self.weight.dtype)
        return ops.take(sizes, index)

    def _apply(self, grads, variables):
        accumulators = self._accumulators(variables)
        size = self._micro_batch_size()
        for g, total in zip(grads, accumulators, strict=True):
            if g is not None:
                total.assign_add(
                    g if self.micro_batch_sizes is None else ops.cast(size, g.dtype) * g
                )
        self.weight.assign_add(size)

        def update():
            weight = self.weight.value
            mean = [
                None if g is None else total.value / ops.cast(weight, total.dtype)
                for g, total in zip(grads, accumulators, strict=True)
            ]
            self.inner.apply(mean, variables)
            for total in accumulators:
                total.assign(ops.zeros_like(total.value))
            self.weight.assign(ops.zeros_like(weight))

        is_update = ops.equal(ops.mod(self.micro_step.value + 1, self.steps), 0)
        touched = [*variables, *self.inner.variables, *accumulators, self.weight]
        run_if(is_update, update, touched)
        self.micro_step.assign_add(1)

    def _accumulators(self, variables):
        return [self.sums[self._get_variable_index(v)] for v in variables]

    def get_config(self):
        sizes = None if self.micro_batch_sizes is None else self.micro_batch_sizes.tolist()
        return {**super().get_config(), "steps": self.steps, "micro_batch_sizes": sizes}
