"""Check a composed config before anything is built, with errors that name key, value and expectation.

Hydra parses ``key=abc`` on the command line into a string and ``key=3`` into an int, so a value of
the wrong type reaches us silently; these checks catch it before any data is read or model built.
"""

from collections.abc import Callable, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from keraslab.errors import ConfigError

Check = Callable[[Any], str | None]


def integer(minimum: int) -> Check:
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            return f"an integer >= {minimum}"
        return None

    return check


def optional(check: Check) -> Check:
    def optional_check(value):
        problem = check(value) if value is not None else None
        return f"null or {problem}" if problem else None

    return optional_check


def number(
    low: float, high: float, low_inclusive: bool = True, high_inclusive: bool = True
) -> Check:
    def check(value):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            ok = (value >= low if low_inclusive else value > low) and (
                value <= high if high_inclusive else value < high
            )
        if not ok:
            left, right = "[" if low_inclusive else "(", "]" if high_inclusive else ")"
            return f"a number in {left}{low}, {high}{right}"
        return None

    return check


def positive_number(value) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return None if ok else "a number > 0"


def one_of(*choices) -> Check:
    def check(value):
        return None if value in choices else f"one of {', '.join(map(repr, choices))}"

    return check


def regexes(value) -> str | None:
    import re

    expected = "a list of regular expressions"
    if isinstance(value, str) or not isinstance(value, Sequence):
        return expected
    if not all(isinstance(v, str) for v in value):
        return expected
    try:
        for pattern in value:
            re.compile(pattern)
    except re.error:
        return expected
    return None


def schedule_points(value) -> str | None:
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


def string(value) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


CHECKS: dict[str, Check] = {
    "seed": integer(0),
    "resume": optional(string),
    "export": one_of(None, "google", "hf"),
    "export_weights": one_of("ema", "raw"),
    "data.data_dir": string,
    "data.maxlen": integer(3),
    "data.batch_size": integer(1),
    "data.min_char_count": integer(1),
    "data.max_train_samples": optional(integer(1)),
    "data.mask_rate": number(0.0, 1.0, low_inclusive=False, high_inclusive=False),
    "data.max_predictions": integer(1),
    "data.drop_label": one_of(True, False),
    "model.encoder.checkpoint": optional(string),
    "model.encoder.num_layers": integer(1),
    "model.encoder.hidden_size": integer(1),
    "model.encoder.num_heads": integer(1),
    "model.encoder.intermediate_size": integer(1),
    "model.encoder.max_positions": integer(1),
    "model.encoder.dropout": number(0.0, 1.0, high_inclusive=False),
    "model.head_dropout": number(0.0, 1.0, high_inclusive=False),
    "optimizer.name": string,
    "optimizer.learning_rate": positive_number,
    "optimizer.schedule": optional(schedule_points),
    "optimizer.clipnorm": optional(positive_number),
    "optimizer.weight_decay": optional(number(0.0, 1.0)),
    "optimizer.weight_decay_exclude": regexes,
    "optimizer.layer_adaptation": one_of(True, False),
    "optimizer.layer_adaptation_exclude": regexes,
    "optimizer.lazy": optional(regexes),
    "optimizer.accum_steps": integer(1),
    "optimizer.lookahead_k": optional(integer(1)),
    "optimizer.lookahead_alpha": number(0.0, 1.0, low_inclusive=False),
    "optimizer.ema": optional(number(0.0, 1.0, high_inclusive=False)),
    "optimizer.ema_warmup": one_of(True, False),
    "trainer.epochs": integer(1),
    "trainer.steps_per_epoch": optional(integer(1)),
    "trainer.validation_steps": optional(integer(1)),
    "trainer.log_every_n_steps": integer(1),
}


def check_config(cfg: DictConfig) -> None:
    """Raise one :class:`ConfigError` listing every bad value, or return quietly."""
    problems = []
    for key, check in CHECKS.items():
        value = OmegaConf.select(cfg, key, default=_MISSING)
        if value is _MISSING:
            continue
        expected = check(value)
        if expected:
            problems.append(f"{key} must be {expected}, got {value!r} ({type(value).__name__})")
    encoder = cfg.get("model", {}).get("encoder", {})
    hidden, heads = encoder.get("hidden_size"), encoder.get("num_heads")
    if isinstance(hidden, int) and isinstance(heads, int) and heads > 0 and hidden % heads:
        problems.append(
            f"model.encoder.hidden_size ({hidden}) must be a multiple of model.encoder.num_heads ({heads})"
        )
    maxlen, positions = cfg.get("data", {}).get("maxlen"), encoder.get("max_positions")
    if isinstance(maxlen, int) and isinstance(positions, int) and positions < maxlen:
        problems.append(
            f"model.encoder.max_positions ({positions}) must be >= data.maxlen ({maxlen})"
        )
    if problems:
        raise ConfigError("invalid config: " + "; ".join(problems) + ".")


_MISSING = object()
