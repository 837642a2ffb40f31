"""Errors for bad user input: configs, CLI overrides, data files and checkpoints.

Each message is one paragraph that names the bad value and says what was expected.
The entry point prints it without a traceback and exits non-zero.
"""


class InputError(ValueError):
    """Base class: the user gave something the experiment cannot run with."""


class ConfigError(InputError):
    """A config value (from a YAML file or a CLI override) is invalid."""


class DataError(InputError):
    """A data folder or data file is missing or malformed."""


class TrainingError(RuntimeError):
    """Training cannot go on (a loss or weights that are no longer finite); the message says
    where it stopped and what is left to resume from."""


class TrackingError(RuntimeError):
    """The tracking store could not take what a finished run had to record."""
