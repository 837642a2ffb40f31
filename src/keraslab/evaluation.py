"""Scoring a trained model on a split, with its trained weights or its optimizer's moving average.

The end of a run and ``scripts/evaluate.py`` score through the same functions, from the same
checkpoint (``best.keras``), so the two give the same numbers for the same file.
"""

from contextlib import nullcontext
from pathlib import Path

from keraslab.errors import ConfigError, InputError
from keraslab.resume import BEST_CHECKPOINT, STATE_FILE, read_state
from keraslab.run_results import SPLIT_EMA

WEIGHTS = ("auto", "ema", "raw")


def scored_checkpoint(run_dir: Path) -> Path:
    """``checkpoints/best.keras``, or the last checkpoint when no epoch ever improved."""
    checkpoints = Path(run_dir) / "checkpoints"
    if (checkpoints / BEST_CHECKPOINT).is_file():
        return checkpoints / BEST_CHECKPOINT
    if not (checkpoints / STATE_FILE).is_file():
        raise InputError(
            f"run {str(run_dir)!r} has no checkpoint: it lacks {checkpoints / BEST_CHECKPOINT} "
            f"and {checkpoints / STATE_FILE}; expected the folder of a run that finished an epoch."
        )
    return checkpoints / read_state(checkpoints / STATE_FILE).checkpoint


def moving_average(model):
    """The :class:`~keraslab.optimizers.ExponentialMovingAverage` in ``model``'s optimizer, or None."""
    from keraslab.optimizers import ExponentialMovingAverage, find_wrapper

    return find_wrapper(model.optimizer, ExponentialMovingAverage)


def chosen_weights(weights: str, model) -> str:
    """``raw`` or ``ema``: ``auto`` is ``ema`` where the optimizer keeps a moving average."""
    if weights not in WEIGHTS:
        raise ConfigError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}.")
    has_ema = moving_average(model) is not None
    if weights == "auto":
        return "ema" if has_ema else "raw"
    if weights == "ema" and not has_ema:
        raise ConfigError(
            "weights=ema, but this run's optimizer keeps no moving average; use weights=raw."
        )
    return weights


def evaluate_split(task, model, data, split: str, loader, weights: str = "raw") -> dict[str, float]:
    """The task's metrics on the whole of ``split``, with the ``raw`` or ``ema`` weights."""
    return _scores(task, model, data, split, loader, (weights,))[weights]


def split_results(task, model, data, split: str, loader) -> dict[str, float]:
    """``<split>_<metric>`` on the trained weights, and ``<split>_ema_<metric>`` on the moving
    average where the optimizer keeps one (one pass of the loader serves both)."""
    weights = ("raw", "ema") if moving_average(model) is not None else ("raw",)
    scores = _scores(task, model, data, split, loader, weights)
    prefixes = {"raw": split, "ema": f"{split}_{SPLIT_EMA}"}
    return {
        f"{prefixes[kind]}_{name}": value
        for kind, metrics in scores.items()
        for name, value in metrics.items()
    }


def _scores(task, model, data, split: str, loader, weights) -> dict[str, dict[str, float]]:
    """weights kind -> the task's metrics on ``split``, its batches read through one loader."""
    from keraslab.loaders.keras_input import keras_input

    batches = data.batches(split, seed=0)
    scores = {}
    with keras_input(batches, loader) as inputs:
        for kind in weights:
            with moving_average(model).averaged_weights() if kind == "ema" else nullcontext():
                scores[kind] = task.evaluate(model, data, split, inputs, len(batches))
    return scores
