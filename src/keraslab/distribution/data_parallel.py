"""Data-parallel training on the framework's own engine: Keras 3's ``keras.distribution``.

Every worker process holds the whole model (replicated variables) and builds only its share of
each batch; the engine averages the gradients over all of them, so ``W`` workers with ``b`` rows
each take the step one process takes with ``W * b`` rows. ``data.batch_size`` stays the global
batch: the same config gives the same run on one worker or many (float32 noise aside).

On JAX, the workers join through ``jax.distributed.initialize`` (CPU collectives over Gloo, so
this runs on CPU machines too; NCCL on GPUs) and ``keras.distribution.DataParallel`` spans every
device of every process. TensorFlow's multi-worker engine (``MultiWorkerMirroredStrategy``)
cannot drive Keras 3's ``model.fit`` yet (keras-team/keras#20585: "Attempt to convert a value
(PerReplica...)", reproduced with Keras 3.15 and TensorFlow 2.21), so ``data_parallel`` asks for
``backend=jax``. Importing this module loads neither Keras nor JAX.
"""

import os
import sys
import traceback
from contextlib import contextmanager
from typing import ClassVar

from keraslab.config_checks import Check, integer, string

# Seconds before JAX's coordination service declares a silent worker dead (JAX's default: 100).
HEARTBEAT_TIMEOUT = 15


def _task_class(cfg):
    from hydra.utils import get_object

    try:
        return get_object(cfg.model._target_)
    except Exception:  # the model section's own check names a bad target
        return None


class SingleProcess:
    """``distribution=none``: one process, Keras's default device placement."""

    workers = 1
    worker_index = 0
    is_chief = True

    def start(self) -> None:
        return None

    def share(self) -> tuple[int, int]:
        """``(this worker's index, number of workers)``: which part of every batch it builds."""
        return 0, 1

    def describe(self) -> str:
        return "one process"

    @contextmanager
    def training(self):
        yield []

    def fail(self, error: BaseException) -> None:
        """What a worker does with the error that ends its run (already recorded by then)."""


class DataParallel(SingleProcess):
    """``distribution=data_parallel``: ``workers`` processes (``worker_index`` 0 is the chief,
    which alone logs to MLflow and keeps checkpoints), joined at ``coordinator`` (the chief's
    ``host:port``). ``python -m keraslab.launch --workers N`` sets the three through
    ``KERASLAB_WORKERS``, ``KERASLAB_WORKER_INDEX`` and ``KERASLAB_COORDINATOR``; on a cluster,
    each host sets them (or passes them as overrides).
    """

    config_checks: ClassVar[dict[str, Check]] = {
        "workers": integer(1),
        "worker_index": integer(0),
        "coordinator": string,
    }

    def __init__(
        self, workers: int = 1, worker_index: int = 0, coordinator: str = "", backend: str = "jax"
    ):
        self.workers = workers
        self.worker_index = worker_index
        self.coordinator = coordinator
        self.backend = backend
        self.is_chief = worker_index == 0

    @staticmethod
    def config_problems(cfg) -> list[str]:
        section = cfg.distribution
        problems = []
        if section.get("backend") != "jax":
            problems.append(
                f"distribution=data_parallel runs on backend=jax, got backend="
                f"{section.get('backend')}: TensorFlow's MultiWorkerMirroredStrategy cannot drive "
                "Keras 3's model.fit (keras-team/keras#20585)"
            )
        index, workers = section.get("worker_index"), section.get("workers")
        if isinstance(index, int) and isinstance(workers, int) and index >= workers:
            problems.append(
                f"distribution.worker_index must be below distribution.workers ({workers}), "
                f"got {index}"
            )
        batch_size = cfg.get("data", {}).get("batch_size")
        if (
            isinstance(workers, int)
            and workers >= 1
            and isinstance(batch_size, int)
            and batch_size % workers
        ):
            problems.append(
                f"data.batch_size ({batch_size}) must be a multiple of distribution.workers "
                f"({workers}): each worker builds an equal share of every global batch"
            )
        task = _task_class(cfg)
        if isinstance(workers, int) and workers > 1 and not getattr(task, "data_parallel", True):
            problems.append(
                f"model {task.__name__} validates with predictions, which several workers cannot "
                f"gather yet: distribution.workers must be 1 for it, got {workers}"
            )
        return problems

    def start(self) -> None:
        """Join the other workers; before Keras or JAX has run anything."""
        import jax

        if self.workers > 1:
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
            jax.distributed.initialize(
                self.coordinator,
                num_processes=self.workers,
                process_id=self.worker_index,
                heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT,
                coordinator_bind_address=self.coordinator,  # not every interface
            )

    def share(self) -> tuple[int, int]:
        return self.worker_index, self.workers

    def fail(self, error: BaseException) -> None:
        """End this worker at once: at a normal exit JAX waits for every worker to reach its
        shutdown, and the others may be waiting for this one in a collective (they fail there
        in turn). Ctrl-C (the launcher hands it to the chief) exits with status 130."""
        if self.workers == 1:
            return
        from keraslab.errors import InputError, TrainingError

        if isinstance(error, KeyboardInterrupt):
            print(f"worker {self.worker_index}: interrupted", file=sys.stderr)
        elif isinstance(error, InputError | TrainingError):
            print(f"error: worker {self.worker_index}: {error}", file=sys.stderr)
        else:
            traceback.print_exception(error)
        sys.stdout.flush()
        sys.stderr.flush()
        codes = {KeyboardInterrupt: 130, InputError: 2}
        os._exit(next((code for kind, code in codes.items() if isinstance(error, kind)), 1))

    def describe(self) -> str:
        import jax

        return (
            f"data parallel: worker {self.worker_index} of {self.workers}, "
            f"{jax.device_count()} devices in all"
        )

    @contextmanager
    def training(self):
        """Models built, loaded and fitted in here are spread over the workers' devices; after
        it, models are local again (the chief scores the best checkpoint on its own). Yields
        the callbacks training needs: with several workers, :class:`StopTogether` (Ctrl-C)."""
        import jax
        import keras

        from keraslab.distribution.stop_together import StopTogether

        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=jax.devices(), auto_shard_dataset=False)
        )
        try:
            if self.workers == 1:
                yield []
            else:
                with StopTogether().listening() as stop:
                    yield [stop]
        finally:
            keras.distribution.set_distribution(None)
