"""Optimizer wrappers that compose over any Keras optimizer, and the factory the config uses."""

from keraslab.optimizers.accumulation import GradientAccumulation
from keraslab.optimizers.ema import ExponentialMovingAverage
from keraslab.optimizers.factory import BASE_OPTIMIZERS, build_optimizer
from keraslab.optimizers.layer_adaptation import LayerAdaptation
from keraslab.optimizers.lazy import LazyUpdates
from keraslab.optimizers.lookahead import Lookahead
from keraslab.optimizers.schedule import PiecewiseLinear
from keraslab.optimizers.summed_rows import SumDuplicateRows
from keraslab.optimizers.weight_decay import WeightDecay
from keraslab.optimizers.wrapper import OptimizerWrapper, find_wrapper, innermost, update_count

__all__ = [
    "BASE_OPTIMIZERS",
    "ExponentialMovingAverage",
    "GradientAccumulation",
    "LayerAdaptation",
    "LazyUpdates",
    "Lookahead",
    "OptimizerWrapper",
    "PiecewiseLinear",
    "SumDuplicateRows",
    "WeightDecay",
    "build_optimizer",
    "find_wrapper",
    "innermost",
    "update_count",
]
