"""The base of every optimizer wrapper: an optimizer that owns an inner one and adds to its update.

A wrapper is a ``keras.optimizers.Optimizer`` (so ``model.compile`` takes it, and checkpoints
save it) whose ``apply`` calls ``inner.apply`` and changes what happens around it. Wrappers nest,
and the innermost optimizer is the *base* (Adam, SGD, ...), whose ``iterations`` count the real
updates; every wrapper reports that count as its own ``iterations``.

Everything in ``apply`` is written with ``keras.ops`` and variable assignments, without Python
branching on tensor values, so the same code runs eagerly, inside TensorFlow graphs, and under
JAX, whose ``stateless_apply`` (inherited) replays ``apply`` in a stateless scope.
"""

from collections.abc import Callable, Sequence

import keras
from keras import ops


class OptimizerWrapper(keras.optimizers.Optimizer):
    """Delegates to ``inner``; subclasses override :meth:`build` (calling ``super``) and :meth:`_apply`."""

    def __init__(self, inner: keras.optimizers.Optimizer, name: str | None = None):
        super().__init__(learning_rate=0.0, name=name)
        self.inner = inner

    @property
    def base(self) -> keras.optimizers.Optimizer:
        """The innermost optimizer: the one that turns gradients into updates."""
        return innermost(self)

    def build(self, var_list):
        if not self.inner.built:
            self.inner.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.inner.variables

    @property
    def iterations(self):
        return self.base.iterations

    @property
    def learning_rate(self):
        return self.inner.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner.learning_rate = value

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        grads = [None if g is None else ops.convert_to_tensor(g) for g in grads]
        self._apply(grads, trainable_variables)

    def _apply(self, grads: list, variables: list) -> None:
        self.inner.apply(grads, variables)

    def finalize_variable_values(self, var_list):
        """Keras calls this when ``fit`` ends; weights stay as trained (see the EMA wrapper)."""
        self.inner.finalize_variable_values(var_list)

    def get_config(self):
        return {"name": self.name, "inner": keras.optimizers.serialize(self.inner)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.optimizers.deserialize(config.pop("inner"), custom_objects=custom_objects)
        return cls(inner, **config)


def innermost(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    while isinstance(optimizer, OptimizerWrapper):
        optimizer = optimizer.inner
    return optimizer


def find_wrapper(optimizer: keras.optimizers.Optimizer, kind: type) -> "OptimizerWrapper | None":
    """The wrapper of type ``kind`` in ``optimizer``'s stack, if there is one."""
    while isinstance(optimizer, OptimizerWrapper):
        if isinstance(optimizer, kind):
            return optimizer
        optimizer = optimizer.inner
    return None


def update_count(optimizer: keras.optimizers.Optimizer) -> int:
    """Real optimizer updates so far (accumulation micro-steps are not updates)."""
    return int(ops.convert_to_numpy(innermost(optimizer).iterations))


def run_if(condition, update: Callable[[], None], touched: Sequence[keras.Variable]) -> None:
    """Run ``update`` (which assigns ``touched`` variables) only where ``condition`` holds.

    TensorFlow runs it inside ``ops.cond``. Other backends cannot assign inside a traced
    conditional, so there ``update`` always runs and each touched variable then keeps either its
    new or its old value (as Keras's own JAX optimizer does).
    """
    if keras.backend.backend() == "tensorflow":
        ops.cond(condition, update, lambda: None)
        return
    before = [ops.copy(v.value) for v in touched]
    update()
    for variable, old in zip(touched, before, strict=True):
        variable.assign(ops.where(condition, variable.value, old))


def copy_values(sources: Sequence[keras.Variable], targets: Sequence[keras.Variable]) -> None:
    """``target <- source`` for each pair."""
    for source, target in zip(sources, targets, strict=True):
        target.assign(source.value)


def matches_any(path: str, patterns: Sequence) -> bool:
    """Whether a variable path (``layer_0/attention_LayerNorm/gamma``) matches a regex pattern."""
    import re

    return any(re.search(pattern, path) for pattern in patterns)
