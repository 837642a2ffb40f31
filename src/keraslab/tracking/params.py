"""Turn a nested config into MLflow params that fit MLflow's limits."""

from collections.abc import Iterator, Mapping

MAX_PARAMS_PER_BATCH = 100
MAX_PARAM_VALUE_LENGTH = 6000


def flatten(config: Mapping, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": "1", "c": "[1, 2]"}``; None becomes ``"None"``."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def split_long_values(
    params: Mapping[str, str], limit: int = MAX_PARAM_VALUE_LENGTH
) -> dict[str, str]:
    """A value longer than ``limit`` becomes ``key`` (first part), ``key.part2``, ``key.part3``, ..."""
    fitted = {}
    for key, value in params.items():
        parts = [value[start : start + limit] for start in range(0, len(value), limit)] or [""]
        fitted[key] = parts[0]
        fitted.update({f"{key}.part{index}": part for index, part in enumerate(parts[1:], start=2)})
    return fitted


def chunks(params: Mapping[str, str], size: int = MAX_PARAMS_PER_BATCH) -> Iterator[dict[str, str]]:
    """Consecutive dicts of at most ``size`` params, in key order."""
    items = sorted(params.items())
    for start in range(0, len(items), size):
        yield dict(items[start : start + size])
