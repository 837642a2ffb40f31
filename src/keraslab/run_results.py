"""What a finished run reports: the best value of each validation metric, the metric a sweeper
optimizes, and the summary printed at the end."""

import math
from collections.abc import Mapping
from pathlib import Path

from keraslab.errors import ConfigError
from keraslab.tasks.task import VALID_PREFIX, base_metric
from keraslab.tracking.metric_names import tracked_name

SPLIT_EMA = "ema"


def best_name(monitor: str) -> str:
    """``val_f1`` -> ``best_valid_f1``: the result holding a metric's best epoch."""
    return f"best_{tracked_name(monitor)}"


def result_base(name: str) -> str:
    """``best_valid_ema_accuracy``, ``test_accuracy`` -> ``accuracy``: the task metric a result
    is of."""
    for prefix in ("best_", "valid_", "test_", "ema_"):
        name = name.removeprefix(prefix)
    return name


def best_values(
    history: Mapping[str, list[float]], task, monitor: tuple[str, str]
) -> dict[str, float]:
    """``best_<tracked name>`` of every validation metric of ``history`` (every epoch's logs):
    the best finite value, by ``monitor``'s mode for the monitored metric and by the task's
    ``metric_modes`` for the others."""
    results = {}
    for name, values in history.items():
        base = base_metric(name)
        if not name.startswith(VALID_PREFIX) or base not in task.metric_modes:
            continue
        mode = monitor[1] if name == monitor[0] else task.metric_modes[base]
        finite = [value for value in values if math.isfinite(value)]
        if finite:
            results[best_name(name)] = min(finite) if mode == "min" else max(finite)
    return results


def split_metric_names(task, split: str, ema: bool) -> list[str]:
    """``<split>_<metric>``, and ``<split>_ema_<metric>`` when an EMA optimizer is scored too."""
    prefixes = (split, f"{split}_{SPLIT_EMA}") if ema else (split,)
    return [f"{prefix}_{name}" for prefix in prefixes for name in task.metric_modes]


def optimized_metric(
    configured: str | None, monitor: str, task, ema_validated: bool, ema: bool, has_test: bool
) -> str:
    """The result a run returns to a sweeper: ``configured`` (``optimized_metric``), or else the
    best value of the monitored metric; it must be a result this run reports."""
    name = configured or best_name(monitor)
    reported = [best_name(metric) for metric in task.validation_metrics(ema_validated)]
    if has_test:
        reported += split_metric_names(task, "test", ema)
    if name not in reported:
        raise ConfigError(
            f"optimized_metric {name!r} is not a result of this run; expected one of "
            f"{', '.join(reported)}."
        )
    return name


def summary(
    results: Mapping[str, float],
    monitor: tuple[str, str],
    history: Mapping[str, list[float]],
    objective: str,
    value: float,
    run_dir: Path,
    tracker,
) -> str:
    """A few lines for the end of a run: the best monitored value and its epoch, the test
    metrics, the task's final train-split scores, what the run returned (``objective`` = ``value``), the run folder, and where to
    see it in MLflow."""
    name, mode = monitor
    values = history.get(name, [])
    lines = ["run finished"]
    best = results.get(best_name(name))
    if best is not None:
        lines.append(
            f"  best {name} ({mode}): {best:.4f} at epoch {values.index(best) + 1} of {len(values)}"
        )
    for prefix in ("test_", "train_"):
        scores = {key: value for key, value in results.items() if key.startswith(prefix)}
        if scores:
            lines.append("  " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(scores.items())))
    lines.append(f"  returned (optimized_metric): {objective} = {value:.4f}")
    lines.append(f"  run folder: {run_dir}")
    lines.append(f"  {tracker.describe()}")
    return "\n".join(lines)
