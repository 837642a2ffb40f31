"""The base of every optimizer wrapper: an optimizer that owns an inner one and adds to its update.

A wrapper is a ``keras.optimizers.Optimizer`` (so ``model.compile`` takes it, and checkpoints
save it) whose ``apply`` calls ``inner.apply`` and changes what happens around it. Wrappers nest,
and the innermost optimizer is the *base* (Adam, SGD, ...), whose ``iterations`` count the real
updates; every wrapper reports that count as its own ``iterations``.

Everything in ``apply`` is written with ``keras.ops`` and variable assignments, without Python
branching on tensor values, so the same code runs eagerly, inside TensorFlow graphs, and under
JAX, whose ``stateless_apply`` (inherited) replays ``apply`` in a stateless scope.
"""

import re
import warnings
from collections.abc import Callable, Sequence

import keras
from keras import ops

from keraslab.config_checks import Check


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
        else:
            self._check_known(trainable_variables)
        grads = [None if g is None else ops.convert_to_tensor(g) for g in grads]
        self._apply(grads, trainable_variables)

    def _apply(self, grads: list, variables: list) -> None:
        self.inner.apply(grads, variables)

    def _check_known(self, variables: Sequence) -> None:
        """An optimizer keeps state per variable, so it serves the model it was built for."""
        unknown = []
        for variable in variables:
            try:
                self._get_variable_index(variable)
            except KeyError:
                unknown.append(variable.path)
        if unknown:
            raise ValueError(
                f"optimizer {self.name!r} ({type(self).__name__}) was built for another model's "
                f"variables and holds no state for {', '.join(unknown[:5])}"
                f"{f' and {len(unknown) - 5} more' if len(unknown) > 5 else ''}; an optimizer "
                "serves one model: give this model an optimizer of its own."
            )

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


def wrapped(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer | None:
    """The optimizer inside ``optimizer``: a wrapper's, or a (float16) LossScaleOptimizer's."""
    if isinstance(optimizer, OptimizerWrapper):
        return optimizer.inner
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.inner_optimizer
    return None


def innermost(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    while (inner := wrapped(optimizer)) is not None:
        optimizer = inner
    return optimizer


def find_wrapper(optimizer: keras.optimizers.Optimizer, kind: type) -> "OptimizerWrapper | None":
    """The wrapper of type ``kind`` in ``optimizer``'s stack, if there is one."""
    while optimizer is not None:
        if isinstance(optimizer, kind):
            return optimizer
        optimizer = wrapped(optimizer)
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
    return any(re.search(pattern, path) for pattern in patterns)


def warn_if_no_match(owner: str, patterns: Sequence[str], variables: Sequence) -> None:
    """Warn, naming the patterns and the variable paths, when ``patterns`` (``owner``'s
    selection of variables) match none of ``variables``: the selection would change nothing."""
    paths = [variable.path for variable in variables]
    if not patterns or any(matches_any(path, patterns) for path in paths):
        return
    shown = ", ".join(paths[:20]) + (f" and {len(paths) - 20} more" if len(paths) > 20 else "")
    warnings.warn(
        f"{owner} patterns {list(patterns)} match no variable, so they change nothing; the "
        f"variable paths are: {shown}",
        stacklevel=3,
    )


def require(owner: str, argument: str, value, check: Check) -> None:
    """Raise a ``ValueError`` naming ``owner``'s ``argument`` unless ``check`` passes ``value``."""
    expected = check(value)
    if expected:
        raise ValueError(f"{owner} {argument} must be {expected}, got {value!r}.")
