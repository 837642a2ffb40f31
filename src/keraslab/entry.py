"""What the entry points (``scripts/run.py``, ``scripts/evaluate.py``) do around their work.

Before Hydra composes: the repository root for ``paths`` and TensorFlow's log level. Around the
work: bad input printed as one paragraph on stderr with exit status 2, a training that cannot go
on (a non-finite loss) with status 1 (inside a sweep both are raised, so Hydra records the failed
job and goes on with the others). Nothing here imports Keras: the work does, once its input is
checked (with :func:`keraslab.quiet.import_backend`), so ``--help``, ``--cfg`` and config errors
never wait for TensorFlow.
"""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

Result = TypeVar("Result")


def set_environment(script: str) -> None:
    """``KERASLAB_ROOT`` (the folder above ``script``'s) and a quiet TensorFlow, unless set."""
    os.environ.setdefault("KERASLAB_ROOT", str(Path(script).resolve().parents[1]))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_job(work: Callable[..., Result], cfg) -> Result:
    """``work(cfg)``; an :class:`~keraslab.errors.InputError` ends the process with status 2, a
    :class:`~keraslab.errors.TrainingError` with status 1, each as one line on stderr."""
    from keraslab.errors import InputError, TrainingError
    from keraslab.tracking.hydra_job import current_job

    try:
        return work(cfg)
    except (InputError, TrainingError) as error:
        if current_job().is_multirun:
            raise
        during_training = isinstance(error, TrainingError)
        line_break = "\n" if during_training else ""  # a progress bar may have left its line open
        print(f"{line_break}error: {error}", file=sys.stderr)
        sys.exit(1 if during_training else 2)
