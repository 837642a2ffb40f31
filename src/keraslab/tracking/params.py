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


PER_JOB_PREFIXES = ("paths.",)  # differ in every job of a sweep: tags, not compared params


def run_params(
    config: Mapping, choices: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """A run's ``(params, tags)``: the flattened config, the config-group choices as
    ``choice.<group>`` (``choice.optimizer = lookahead``) and derived values
    (``derived.effective_batch_size`` = ``data.batch_size`` × ``optimizer.accum_steps``) are
    params; the per-job paths (``paths.*``) are tags, so a sweep's jobs differ only in what was
    swept."""
    flat = flatten(config)
    params = {k: v for k, v in flat.items() if not k.startswith(PER_JOB_PREFIXES)}
    tags = {k: v for k, v in flat.items() if k.startswith(PER_JOB_PREFIXES)}
    params.update({f"choice.{group}": option for group, option in choices.items()})
    batch = config.get("data", {}).get("batch_size")
    if isinstance(batch, int):
        steps = config.get("optimizer", {}).get("accum_steps") or 1
        params["derived.effective_batch_size"] = str(batch * steps)
    return params, tags


def short_overrides(overrides: list[str]) -> str:
    """Overrides with each key cut to its last part, values first to the eye:
    ``optimizer.ema=0.99 optimizer.ema_warmup=False`` -> ``ema=0.99 ema_warmup=False``. Keys
    whose last parts coincide keep their full path."""
    parts = [o.lstrip("+~").partition("=") for o in overrides]  # (key, "=", value)
    lasts = [key.rsplit(".", 1)[-1] for key, _, _ in parts]
    return " ".join(
        f"{last if lasts.count(last) == 1 else key}{equals}{value}"
        for (key, equals, value), last in zip(parts, lasts, strict=True)
    )
