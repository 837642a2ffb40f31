"""Check a composed config before anything is built, with errors that name key, value and expectation.

Hydra parses ``key=abc`` on the command line into a string and ``key=3`` into an int, so a value of
the wrong type reaches us silently. Each config target keeps its checks beside it: the class or
builder function a section's ``_target_`` names carries ``config_checks``, a table from keys of
its section (``maxlen``, ``encoder.hidden_size``) to checks, and may define
``config_problems(cfg)`` for rules that join several keys. :func:`check_config` runs them for every
section, before any data is read or model built, and reports every problem at once.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from keraslab.errors import ConfigError, InputError

# value -> None when it is fine, else what was expected ("an integer >= 1").
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


def string(value) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


def table_problems(cfg: DictConfig, table: Mapping[str, Check], prefix: str = "") -> list[str]:
    """A problem line for each key of ``table`` that ``cfg`` holds with a bad value."""
    problems = []
    for key, check in table.items():
        value = OmegaConf.select(cfg, key, default=_MISSING)
        if value is _MISSING:
            continue
        expected = check(value)
        if expected:
            problems.append(
                f"{prefix}{key} must be {expected}, got {value!r} ({type(value).__name__})"
            )
    return problems


def section_problems(cfg: DictConfig, section: str) -> list[str]:
    """The problems that the target of ``cfg[section]`` finds in the config."""
    from hydra.utils import get_object

    path = cfg[section]._target_
    try:
        target = get_object(path)
    except Exception:
        return [
            f"{section}._target_ {path!r} cannot be imported; expected the import path of a "
            "class or function (package.module.Name)"
        ]
    problems = table_problems(cfg[section], getattr(target, "config_checks", {}), f"{section}.")
    joint = getattr(target, "config_problems", None)
    return problems + (joint(cfg) if joint else [])


def check_config(cfg: DictConfig, own_checks: Mapping[str, Check] = {}) -> None:
    """Raise one :class:`ConfigError` listing every bad value, or return quietly.

    ``own_checks`` are the caller's, for keys at the root of the config (``seed``); each section
    with a ``_target_`` is checked by its target.
    """
    problems = table_problems(cfg, own_checks)
    for section, value in cfg.items():
        if isinstance(value, DictConfig) and "_target_" in value:
            problems += section_problems(cfg, section)
    if problems:
        raise ConfigError("invalid config: " + "; ".join(problems) + ".")


_MISSING = object()


def instantiate_section(cfg: DictConfig, section: str, **kwargs):
    """``instantiate(cfg[section])``, with what its target refuses as one error: an
    :class:`~keraslab.errors.InputError` as itself, a constructor's ``ValueError`` or
    ``TypeError`` as a :class:`ConfigError` naming the section (Hydra wraps both in an
    ``InstantiationException`` with a traceback)."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(cfg[section], **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, InputError):
            raise cause from None
        if isinstance(cause, ValueError | TypeError):
            raise ConfigError(
                f"{section} ({cfg[section]._target_}) refused its config: {cause}"
            ) from cause
        raise
