"""What the entry points (``scripts/run.py``, ``scripts/evaluate.py``) do around their work.

Before Hydra composes: the repository root for ``paths`` and :func:`process_defaults` (again in
each job, for a launcher's worker processes, which start there): TensorFlow's log level, a
quick exit and SIGTERM taken as Ctrl-C (MLflow's telemetry is off wherever ``keraslab`` is
imported). Around the work: bad
input printed as one paragraph on stderr with exit status 2, a training that cannot go on (a
non-finite loss) with status 1 (inside a sweep both are raised, so Hydra records the failed
job and goes on with the others). Nothing here imports Keras: the work does, once its input is
checked (with :func:`keraslab.quiet.import_backend`), so ``--help``, ``--cfg`` and config errors
never wait for TensorFlow.
"""

import atexit
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

Result = TypeVar("Result")


def set_environment(script: str) -> None:
    """``KERASLAB_ROOT`` (the folder above ``script``'s) unless set, and
    :func:`process_defaults`."""
    os.environ.setdefault("KERASLAB_ROOT", str(Path(script).resolve().parents[1]))
    process_defaults()


def process_defaults() -> None:
    """A quiet TensorFlow unless set, :func:`exit_without_final_collection` and
    :func:`terminate_as_interrupt`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    exit_without_final_collection()
    terminate_as_interrupt()


def terminate_as_interrupt() -> None:
    """SIGTERM (``kill``, ``timeout``, a batch system's time limit) ends a run as Ctrl-C does.

    By default SIGTERM ends the process on the spot: no handler runs, and the MLflow run stays
    RUNNING until a later run marks it FAILED. Here it goes to whichever SIGINT handler is in
    force when it comes (the one that holds a Ctrl-C back during a write to the store
    included), so the run is marked KILLED and keeps its last checkpoint for ``resume=``. Set in
    the main thread only, and only over the default action: a launcher that handles SIGTERM
    itself (submitit) keeps its own handler."""
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)


def _terminate_as_interrupt(signum, frame) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # SIGINT ignored or default: end as before
    os.kill(os.getpid(), signal.SIGTERM)


_exit_hook_registered = False


def exit_without_final_collection() -> None:
    """At interpreter exit, once every exit handler registered after this call has run, freeze
    the garbage collector (:func:`gc.freeze`), once per process.

    Python's shutdown otherwise runs full collections over every object the process still
    holds: after ``import keras, mlflow`` over half a million, most of the time a worker of a
    sweep takes to exit. Freezing skips only those collections: the exit handlers still run
    and the standard streams are flushed. Objects alive at exit go back to the operating system
    with the process; Python never promised to finalize them (see ``object.__del__``)."""
    global _exit_hook_registered
    if not _exit_hook_registered:
        atexit.register(gc.freeze)  # atexit runs last-in first-out: this one after the others
        _exit_hook_registered = True


def run_job(work: Callable[..., Result], cfg) -> Result:
    """``work(cfg)``; an :class:`~keraslab.errors.InputError` ends the process with status 2, a
    :class:`~keraslab.errors.TrainingError` with status 1, each as one line on stderr."""
    from keraslab.errors import InputError, TrainingError
    from keraslab.tracking.hydra_job import current_job

    process_defaults()  # a launcher's worker process starts here, not in the script
    try:
        return work(cfg)
    except (InputError, TrainingError) as error:
        if current_job().is_multirun:
            raise
        during_training = isinstance(error, TrainingError)
        line_break = "\n" if during_training else ""  # a progress bar may have left its line open
        print(f"{line_break}error: {error}", file=sys.stderr)
        sys.exit(1 if during_training else 2)
