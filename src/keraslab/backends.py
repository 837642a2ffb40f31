"""Which Keras backend a run uses: the config's ``backend`` key (by default ``KERAS_BACKEND``,
else TensorFlow), applied before Keras loads, since Keras picks its backend once per process."""

import os
import sys

from keraslab.errors import ConfigError

BACKENDS = ("tensorflow", "jax")


def use_backend(name: str) -> None:
    """Make ``name`` the backend Keras loads with; where this process has loaded Keras already
    with another one, stop with a :class:`~keraslab.errors.ConfigError` that says so."""
    keras = sys.modules.get("keras")
    if keras is None:
        os.environ["KERAS_BACKEND"] = name
    elif keras.backend.backend() != name:
        raise ConfigError(
            f"backend={name} was asked for, but this process has loaded Keras with "
            f"{keras.backend.backend()} already, and one process holds one backend: run each "
            "backend in its own process (a sweep over backends: hydra/launcher=forkserver or "
            "joblib)."
        )


def sweep_backend(config) -> None:
    """A sweep's ``backend`` into ``KERAS_BACKEND`` of the sweep's process: the parent run's
    ``keras.backend`` tag, and the backend of the processes it starts (launchers' workers)."""
    if config.get("backend"):
        os.environ["KERAS_BACKEND"] = config.backend
