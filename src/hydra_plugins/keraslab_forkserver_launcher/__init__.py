"""``hydra/launcher=forkserver``: a sweep's jobs in ``n_jobs`` worker processes on this machine,
each forked from one server process that imported TensorFlow, Keras and MLflow once
(:mod:`keraslab.worker_start`) as the sweep started.

``hydra/launcher=joblib`` starts its workers as fresh interpreters, so each imports the stack
anew (seconds of CPU time with TensorFlow) after the sweep's own start-up. Here the server
starts with the sweep (:class:`WorkerServer`, the first of the sweep's callbacks), so its
imports run beside the sweep's start-up (the MLflow parent run), and a worker costs a fork. The
server makes no tensor and opens no device: each worker starts its backend itself, with its first
job. A sweep over ``backend`` preloads no Keras (one process holds one backend).

Each job runs as the joblib launcher runs it (Hydra's job set-up, then the task function), its
arguments and result pickled by value (``cloudpickle``): the task function is the script's
``__main__.main``, which pickle can only name. A worker gets its next job only when its last
one is done, so Ctrl-C at a terminal (which reaches the workers with the sweep's process
group) ends the running jobs as it ends a run, and starts no other; a signal to the sweep's
process alone starts no other job and waits for the running ones.
"""

import logging
import multiprocessing
import multiprocessing.forkserver
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, setup_globals
from hydra.experimental.callback import Callback
from hydra.plugins.launcher import Launcher
from hydra_plugins.hydra_joblib_launcher._core import execute_job
from joblib.externals import cloudpickle
from omegaconf import DictConfig

from keraslab.backends import sweep_backend
from keraslab.errors import ConfigError

log = logging.getLogger(__name__)

WITHOUT_KERAS = ["keraslab.worker_imports"]


class ForkserverLauncher(Launcher):
    def __init__(self, n_jobs: int = -1, preload: Sequence[str] = ()) -> None:
        self.n_jobs = worker_count(n_jobs)
        self.preload = list(preload)
        self.config = self.task_function = self.hydra_context = None

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        context = start_server(server_modules(self.config))
        workers = min(self.n_jobs, len(job_overrides))
        log.info(
            f"Launching {len(job_overrides)} jobs in {workers} forked worker processes, "
            f"sweep output dir: {self.config.hydra.sweep.dir}"
        )
        state = Singleton.get_state()
        jobs = []
        for index, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{index} : {' '.join(filter_overrides(overrides))}")
            job = (index, overrides, self.hydra_context, self.config, self.task_function, state)
            jobs.append(cloudpickle.dumps(job))
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return [cloudpickle.loads(result) for result in one_per_worker(pool, jobs, workers)]


def one_per_worker(pool: ProcessPoolExecutor, jobs: list[bytes], workers: int) -> list[bytes]:
    """Every job's result, in order, giving a worker its next job only once its last one is
    done: a pool queues a job ahead for a busy worker, and that job would start after Ctrl-C."""
    queued = iter(enumerate(jobs))
    running: dict[Future, int] = {}
    results: dict[int, bytes] = {}

    def start_next() -> None:
        if (queued_job := next(queued, None)) is not None:
            number, job = queued_job
            running[pool.submit(_execute, job)] = number

    for _ in range(workers):
        start_next()
    while running:
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            results[running.pop(future)] = future.result()
            start_next()
    return [results[number] for number in range(len(jobs))]


def _execute(job: bytes) -> bytes:
    """One job in a worker: Hydra's joblib job function, arguments and result by value."""
    return cloudpickle.dumps(execute_job(*cloudpickle.loads(job)))


class WorkerServer(Callback):
    """Starts the server as a ``forkserver`` sweep starts, with the sweep's backend, and stops
    it when the sweep ends (so the sweep's process waits for it, and its CPU time and its
    workers' count as the sweep's); does nothing under other launchers."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if forkserver_sweep(config):  # a bad n_jobs is the launcher's to report
            sweep_backend(config)
            start_server(server_modules(config))

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if forkserver_sweep(config):
            stop_server()


def forkserver_sweep(config: DictConfig) -> bool:
    return config.hydra.launcher.get("_target_", "").endswith(ForkserverLauncher.__name__)


def worker_count(n_jobs) -> int:
    """``n_jobs`` worker processes, -1 for one per CPU; anything else is a
    :class:`~keraslab.errors.ConfigError`."""
    if isinstance(n_jobs, int) and not isinstance(n_jobs, bool) and (n_jobs >= 1 or n_jobs == -1):
        return n_jobs if n_jobs > 0 else len(os.sched_getaffinity(0))
    raise ConfigError(
        f"hydra.launcher.n_jobs={n_jobs!r}: expected the number of worker processes (a whole "
        "number of at least 1), or -1 for one per CPU"
    )


def server_modules(config: DictConfig) -> list[str]:
    """The launcher's ``preload``, or no Keras where the sweep runs more than one backend."""
    from keraslab.tracking.sweep_callback import sweep_definition

    if "backend" in sweep_definition(config):
        return WITHOUT_KERAS
    return list(config.hydra.launcher.preload)


def start_server(modules: list[str]) -> multiprocessing.context.BaseContext:
    """The forkserver start method, its server running (one per process) with ``modules``
    imported; the imports run in the server, beside this process."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(modules)
    multiprocessing.forkserver.ensure_running()
    return context


def stop_server() -> None:
    """Stop this process's server (the next :func:`start_server` starts a new one) through
    the standard library's private ``_stop``, as its own tests do: it has no public way."""
    multiprocessing.forkserver._forkserver._stop()
