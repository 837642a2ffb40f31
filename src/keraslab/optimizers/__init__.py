"""Optimizer wrappers that compose over any Keras optimizer, and the factory the config uses.

The names below load their modules (and Keras) when first used, so that ``build_optimizer``'s
config checks run before TensorFlow starts. :func:`register_all` imports every wrapper, which
Keras needs before it loads a checkpoint whose optimizer holds them.
"""

import importlib

# name -> the module that defines it
HOMES = {
    "BASE_OPTIMIZERS": "factory",
    "build_optimizer": "factory",
    "ExponentialMovingAverage": "ema",
    "GradientAccumulation": "accumulation",
    "LayerAdaptation": "layer_adaptation",
    "LazyUpdates": "lazy",
    "Lookahead": "lookahead",
    "PiecewiseLinear": "schedule",
    "SumDuplicateRows": "summed_rows",
    "WeightDecay": "weight_decay",
    "OptimizerWrapper": "wrapper",
    "find_wrapper": "wrapper",
    "innermost": "wrapper",
    "update_count": "wrapper",
}
__all__ = [*sorted(HOMES), "register_all"]


def __getattr__(name: str):
    if name not in HOMES:
        raise AttributeError(f"module 'keraslab.optimizers' has no attribute {name!r}")
    return getattr(importlib.import_module(f"keraslab.optimizers.{HOMES[name]}"), name)


def register_all() -> None:
    """Import every wrapper, registering its class with Keras's serialization."""
    for module in set(HOMES.values()):
        importlib.import_module(f"keraslab.optimizers.{module}")
