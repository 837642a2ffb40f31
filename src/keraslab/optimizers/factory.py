"""Build an optimizer from the ``optimizer`` config group.

The group is flat so that toggles compose on the command line: ``optimizer=adamw``
picks the base optimizer, ``optimizer.learning_rate=3e-4`` sets its rate, and the wrapper
toggles ``optimizer.ema=0.999`` and ``optimizer.accum_steps=4`` apply to whichever base is
chosen. For now the toggles use Keras's built-in ``use_ema`` and ``gradient_accumulation_steps``.
"""

from collections.abc import Mapping

import keras
from keras import ops

from keraslab.errors import ConfigError

BASE_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
}


def build_optimizer(
    name: str,
    learning_rate: float,
    ema: float | None = None,
    accum_steps: int = 1,
    clipnorm: float | None = None,
    hyperparameters: Mapping | None = None,
) -> keras.optimizers.Optimizer:
    """The base optimizer ``name`` with its ``hyperparameters`` (beta_1, momentum, ...).

    ``ema``: keep ``shadow <- ema * shadow + (1 - ema) * w`` after every update (None: off).
    ``accum_steps``: average gradients over n micro-batches and apply them once.
    """
    if name not in BASE_OPTIMIZERS:
        raise ConfigError(
            f"optimizer.name must be one of {', '.join(BASE_OPTIMIZERS)}, got {name!r}."
        )
    options = dict(hyperparameters or {})
    options.update(learning_rate=learning_rate, clipnorm=clipnorm)
    if ema is not None:
        options.update(use_ema=True, ema_momentum=ema)
    if accum_steps > 1:
        options.update(gradient_accumulation_steps=accum_steps)
    try:
        return BASE_OPTIMIZERS[name](**options)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"optimizer.hyperparameters {dict(hyperparameters or {})} are not valid for "
            f"optimizer {name!r}: {error}"
        ) from error


def update_count(optimizer: keras.optimizers.Optimizer) -> int:
    """Real optimizer updates so far (Keras's ``iterations`` skips accumulation micro-steps)."""
    return int(ops.convert_to_numpy(optimizer.iterations))
