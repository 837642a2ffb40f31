"""Build an optimizer from the ``optimizer`` config group: a base optimizer and its wrappers.

The group is flat, so toggles compose on the command line with any base: ``optimizer=sgd
optimizer.ema=0.999 optimizer.accum_steps=4``. The stack, innermost first, is

    base (learning rate x schedule) -> SumDuplicateRows -> WeightDecay -> LayerAdaptation
        -> LazyUpdates -> GradientAccumulation -> Lookahead -> ExponentialMovingAverage

so the base sees one gradient slice per embedding row (the dense update, see
:mod:`keraslab.optimizers.summed_rows`), weight decay sits inside the trust ratio (LAMB),
accumulation feeds averaged gradients to every update-shaping wrapper, and lookahead and EMA
advance on real updates only.
"""

from collections.abc import Mapping, Sequence

from keraslab.config_checks import (
    integer,
    number,
    one_of,
    optional,
    positive_number,
    regexes,
)
from keraslab.errors import ConfigError
from keraslab.optimizers.patterns import NO_DECAY

# Config name -> the class in keras.optimizers. This module loads Keras only when it builds an
# optimizer, so the config checks below run before TensorFlow starts.
BASE_OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "lion": "Lion"}


def build_optimizer(
    name: str,
    learning_rate: float,
    schedule: Mapping | None = None,
    clipnorm: float | None = None,
    hyperparameters: Mapping | None = None,
    weight_decay: float | None = None,
    weight_decay_exclude: Sequence[str] = NO_DECAY,
    layer_adaptation: bool = False,
    layer_adaptation_exclude: Sequence[str] = NO_DECAY,
    lazy: Sequence[str] | None = None,
    accum_steps: int = 1,
    lookahead_k: int | None = None,
    lookahead_alpha: float = 0.5,
    ema: float | None = None,
    ema_warmup: bool = False,
):
    """The base optimizer ``name`` (``hyperparameters``: beta_1, momentum, ...) and the wrappers
    whose settings are given: ``weight_decay`` (rate), ``layer_adaptation``, ``lazy`` (path
    regexes), ``accum_steps`` > 1, ``lookahead_k``, ``ema`` (decay). ``schedule``
    (``{step: multiplier}``) makes the learning rate piecewise-linear in real updates."""
    import keras

    from keraslab.optimizers.accumulation import GradientAccumulation
    from keraslab.optimizers.ema import ExponentialMovingAverage
    from keraslab.optimizers.layer_adaptation import LayerAdaptation
    from keraslab.optimizers.lazy import LazyUpdates
    from keraslab.optimizers.lookahead import Lookahead
    from keraslab.optimizers.schedule import PiecewiseLinear
    from keraslab.optimizers.summed_rows import SumDuplicateRows
    from keraslab.optimizers.weight_decay import WeightDecay

    if name not in BASE_OPTIMIZERS:
        raise ConfigError(
            f"optimizer.name must be one of {', '.join(BASE_OPTIMIZERS)}, got {name!r}."
        )
    rate = PiecewiseLinear(learning_rate, schedule) if schedule else learning_rate
    options = {**(hyperparameters or {}), "learning_rate": rate, "clipnorm": clipnorm}
    try:
        optimizer = getattr(keras.optimizers, BASE_OPTIMIZERS[name])(**options)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"optimizer.hyperparameters {dict(hyperparameters or {})} are not valid for "
            f"optimizer {name!r}: {error}"
        ) from error
    optimizer = SumDuplicateRows(optimizer)
    if weight_decay:
        optimizer = WeightDecay(optimizer, weight_decay, weight_decay_exclude)
    if layer_adaptation:
        optimizer = LayerAdaptation(optimizer, layer_adaptation_exclude)
    if lazy:
        optimizer = LazyUpdates(optimizer, lazy)
    if accum_steps > 1:
        optimizer = GradientAccumulation(optimizer, accum_steps)
    if lookahead_k:
        optimizer = Lookahead(optimizer, lookahead_k, lookahead_alpha)
    if ema is not None:
        optimizer = ExponentialMovingAverage(optimizer, ema, ema_warmup)
    return optimizer


def schedule_points(value) -> str | None:
    """Check ``optimizer.schedule``: a non-empty ``{step >= 0: multiplier >= 0}``."""
    expected = "a non-empty mapping {step >= 0: multiplier >= 0}"
    if not hasattr(value, "items") or not value:
        return expected
    for step, multiplier in value.items():
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            return expected
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, int | float)
            or multiplier < 0
        ):
            return expected
    return None


build_optimizer.config_checks = {
    "name": one_of(*BASE_OPTIMIZERS),
    "learning_rate": positive_number,
    "schedule": optional(schedule_points),
    "clipnorm": optional(positive_number),
    "weight_decay": optional(number(0.0, 1.0)),
    "weight_decay_exclude": regexes,
    "layer_adaptation": one_of(True, False),
    "layer_adaptation_exclude": regexes,
    "lazy": optional(regexes),
    "accum_steps": integer(1),
    "lookahead_k": optional(integer(1)),
    "lookahead_alpha": number(0.0, 1.0, low_inclusive=False),
    "ema": optional(number(0.0, 1.0, high_inclusive=False)),
    "ema_warmup": one_of(True, False),
}
