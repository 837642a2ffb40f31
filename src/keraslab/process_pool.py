"""A pool of spawn-started worker processes that each run one picklable function.

The engine under ``loader=processes`` and :func:`keraslab.parallel.parallel_apply`. It is built
on the standard library rather than on ``concurrent.futures.ProcessPoolExecutor``, which pickles
the function again with every task (a loader's batch function carries the whole dataset), cannot
tell its workers apart (no per-worker seeds), and cannot stop a busy worker or what it started.

Guarantees:

- Workers start with the ``spawn`` method, so nothing is inherited: the function is pickled
  once, when the pool starts, and each item when it is submitted. Either failing to pickle
  raises ``TypeError`` in the caller, naming the object and the pickling error.
- ``submit(item)`` returns a ``concurrent.futures.Future`` of ``func(item)``. An exception
  raised by ``func`` is set on that future with its own type and message, and the worker's
  traceback text as its ``__cause__`` (:class:`RemoteTraceback`); the pool goes on. An exception
  that cannot travel (it does not pickle, or its class cannot be imported in the parent) arrives
  as a ``RuntimeError`` naming its type and message, with the same traceback text.
- A worker that dies (killed, ``os._exit``, a crash) fails every pending future with
  :class:`WorkerDiedError`, naming the worker, its exit status and the item it was running,
  within about ``POLL_SECONDS``. So does a worker that cannot load the function.
- Workers are not daemonic, so the function may start processes of its own (a nested pool).
  Each worker leads its own process group, which :meth:`WorkerPool.close` kills: nothing a worker
  started outlives the pool. A Ctrl-C in a terminal reaches the parent only, which then closes
  the pool (``with`` or ``try/finally``); a pool left open is closed at interpreter exit, and
  a worker whose parent has gone exits on its own.

POSIX only (process groups).
"""

import atexit
import itertools
import multiprocessing
import os
import pickle
import random
import reprlib
import signal
import struct
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from multiprocessing import connection

POLL_SECONDS = 0.1  # how often the collector checks that every worker is alive
STOP_GRACE_SECONDS = 2.0  # how long close() lets a busy worker finish its task
_TASK = struct.Struct("<q")  # task id, then the pickled item
_RESULT = struct.Struct("<q?")  # task id (_SETUP: loading the function), success; then the body
_SETUP = -1

_worker_index: int | None = None


class WorkerDiedError(RuntimeError):
    """A worker process ended without finishing its tasks, or could not load its function."""


class RemoteTraceback(Exception):
    """The ``__cause__`` of an exception re-raised from a worker: the worker's traceback text."""

    def __str__(self) -> str:
        return self.args[0]


def worker_index() -> int | None:
    """The index (0 .. workers - 1) of the pool worker this runs in; None outside workers."""
    return _worker_index


def dumps(obj, what: str) -> bytes:
    """``obj`` pickled, or ``TypeError`` saying that ``what`` cannot reach a spawned worker."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        name = getattr(obj, "__qualname__", None)
        raise TypeError(
            f"{what} {name or reprlib.repr(obj)} cannot be sent to a worker process: "
            f"{type(error).__name__}: {error}. Worker processes are started with 'spawn', which "
            "sends objects by pickling: use a module-level function or an instance of a "
            "module-level class, not a lambda, a closure or a local function."
        ) from error


def check_options(workers, seed) -> None:
    """``ValueError`` naming ``workers`` or ``seed`` unless they suit a :class:`WorkerPool`."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if seed is not None and not (isinstance(seed, int) and 0 <= seed <= 2**32 - workers):
        raise ValueError(
            f"seed must be None or an integer in [0, 2**32 - workers] (worker i uses "
            f"seed + i, and numpy takes 32-bit seeds), got {seed!r}"
        )


def _exit_status(code: int) -> str:
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


class WorkerPool:
    """``workers`` processes that run ``func`` on submitted items; a context manager.

    With ``seed``, worker ``i`` seeds ``random`` and ``numpy.random`` with ``seed + i`` before
    its first task. Items go to the worker with the fewest unfinished tasks unless ``submit``
    names one, and each worker runs its tasks in the order they were submitted; ``func`` is
    unpickled once per worker, so state it keeps on itself lasts from one task to the next.
    ``name`` names the processes; ``func_name`` is how errors name the function (default: its
    qualified name).
    """

    def __init__(
        self,
        func: Callable,
        workers: int,
        seed: int | None = None,
        name: str = "keraslab-worker",
        func_name: str | None = None,
    ):
        check_options(workers, seed)
        payload = dumps(func, "the function")
        self.func_name = func_name or getattr(func, "__qualname__", type(func).__qualname__)
        context = multiprocessing.get_context("spawn")
        self._stop = context.RawValue("b", 0)
        self._lock = threading.Lock()  # guards _running, _failure and _closed
        self._send_lock = threading.Lock()  # keeps each worker's pipe in submission order
        self._running: list[dict[int, tuple[Future, str]]] = [{} for _ in range(workers)]
        self._failure: BaseException | None = None
        self._closed = False
        self._task_ids = itertools.count()
        self.processes: list = []
        self._task_writers: list[connection.Connection] = []
        self._result_readers: list[connection.Connection] = []
        self._collector: threading.Thread | None = None
        atexit.register(self.close)
        try:
            for index in range(workers):
                self._start_worker(context, index, payload, seed, name)
        except BaseException:
            self.close()
            raise
        self._collector = threading.Thread(target=self._collect, name=f"{name}-results")
        self._collector.daemon = True
        self._collector.start()

    def _start_worker(self, context, index: int, payload: bytes, seed, name: str) -> None:
        task_reader, task_writer = context.Pipe(duplex=False)
        result_reader, result_writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve,
            args=(index, payload, seed, task_reader, result_writer, self._stop),
            name=f"{name}-{index}",
            daemon=False,
        )
        process.start()
        # The worker holds the other ends now; closing ours lets each side see the other go.
        task_reader.close()
        result_writer.close()
        self.processes.append(process)
        self._task_writers.append(task_writer)
        self._result_readers.append(result_reader)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, item, worker: int | None = None) -> Future:
        """The future of ``func(item)`` in worker ``worker`` (default: the one with the fewest
        unfinished tasks). Raises if the pool is closed or broken."""
        if worker is not None and worker not in range(len(self.processes)):
            raise ValueError(
                f"worker must be None or in [0, {len(self.processes)}), got {worker!r}"
            )
        body = dumps(item, "the item")
        future = Future()
        future.set_running_or_notify_cancel()
        with self._send_lock:
            with self._lock:
                if self._closed:
                    raise RuntimeError("this WorkerPool is closed; open a new one")
                if self._failure is not None:
                    raise self._failure
                if worker is None:
                    worker = min(range(len(self._running)), key=lambda w: len(self._running[w]))
                task_id = next(self._task_ids)
                self._running[worker][task_id] = (future, reprlib.repr(item))
            with suppress(OSError):  # a dead worker: the collector fails this future with why
                self._task_writers[worker].send_bytes(_TASK.pack(task_id) + body)
        return future

    def _collect(self) -> None:
        """Runs in a thread: settles futures from the result pipes and watches for deaths."""
        readers = {reader: index for index, reader in enumerate(self._result_readers)}
        alive = set(range(len(self.processes)))
        try:
            while alive:
                sentinels = [self.processes[index].sentinel for index in alive]
                for ready in connection.wait([*readers, *sentinels], timeout=POLL_SECONDS):
                    if ready in readers:
                        self._receive(ready, readers)
                # exitcode polls waitpid: unlike a sentinel, it also sees a worker die whose
                # own children still hold its pipes open.
                for index in [i for i in alive if self.processes[i].exitcode is not None]:
                    alive.discard(index)
                    reader = self._result_readers[index]
                    while reader in readers and reader.poll():
                        self._receive(reader, readers)
                    self._worker_ended(index)
        except BaseException as error:
            self._fail(WorkerDiedError(f"the pool's result collector failed: {error!r}"))

    def _receive(self, reader: connection.Connection, readers: dict) -> None:
        index = readers[reader]
        try:
            message = reader.recv_bytes()
        except (EOFError, OSError):
            del readers[reader]
            return
        task_id, ok = _RESULT.unpack_from(message)
        body = memoryview(message)[_RESULT.size :]
        if task_id == _SETUP:
            error = self._remote_error(index, body)
            died = WorkerDiedError(
                f"worker process {index} could not load {self.func_name}: "
                f"{type(error).__name__}: {error}"
            )
            died.__cause__ = error
            self._fail(died)
            return
        with self._lock:
            future, _ = self._running[index].pop(task_id, (None, None))
        if future is None:  # the pool failed or closed meanwhile
            return
        if not ok:
            future.set_exception(self._remote_error(index, body))
            return
        try:
            future.set_result(pickle.loads(body))
        except Exception as error:
            future.set_exception(error)

    def _remote_error(self, index: int, body) -> BaseException:
        pickled, kind, message, text = pickle.loads(body)
        try:
            error = pickle.loads(pickled)
        except Exception as unpickling:
            error = RuntimeError(
                f"{kind}: {message} (raised in a worker; its class cannot be loaded here: "
                f"{unpickling!r})"
            )
        error.__cause__ = RemoteTraceback(
            f"\nin worker process {index} (pid {self.processes[index].pid}):\n{text}"
        )
        return error

    def _worker_ended(self, index: int) -> None:
        with self._lock:
            if self._closed:
                return
            process = self.processes[index]
            running = next(iter(self._running[index].values()), None)
            doing = f"while running {self.func_name}({running[1]})" if running else "while idle"
        self._fail(
            WorkerDiedError(
                f"worker process {index} (pid {process.pid}) died "
                f"({_exit_status(process.exitcode)}) {doing}; the pool has stopped and its "
                "unfinished tasks fail"
            )
        )

    def _fail(self, error: BaseException) -> None:
        """Break the pool: every unfinished future, and every later submit, raises ``error``."""
        with self._lock:
            if self._failure is None:
                self._failure = error
        for future in self._take_unfinished():
            future.set_exception(self._failure)

    def _take_unfinished(self) -> list[Future]:
        with self._lock:
            futures = [future for running in self._running for future, _ in running.values()]
            for running in self._running:
                running.clear()
        return futures

    def close(self) -> None:
        """Stop the workers and fail unfinished futures. Idle workers exit at once, busy ones
        after their current task; any still running ``STOP_GRACE_SECONDS`` later are killed,
        and so is every process left in the workers' process groups. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        try:
            self._stop.value = 1
            for writer in self._task_writers:
                with suppress(OSError):  # that worker is gone already
                    writer.send_bytes(b"")
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for process in self.processes:
                process.join(max(deadline - time.monotonic(), 0))
        finally:  # even if a second Ctrl-C cuts the grace period short
            for process in self.processes:
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                if process.exitcode is None:
                    process.kill()
            for process in self.processes:
                process.join(STOP_GRACE_SECONDS)
        for future in self._take_unfinished():
            future.set_exception(RuntimeError("the WorkerPool closed before this task finished"))
        if self._collector is not None:
            self._collector.join(STOP_GRACE_SECONDS)
            if self._collector.is_alive():  # still reading: leave its pipes to the GC
                return
        for pipe in [*self._task_writers, *self._result_readers]:
            pipe.close()


def _serve(index, payload, seed, tasks, results, stop) -> None:
    """A worker's main loop: run the function on each task until told to stop or orphaned."""
    global _worker_index
    os.setpgrp()  # its own group, so close() can kill whatever this worker starts
    _worker_index = index
    try:
        if seed is not None:
            import numpy as np

            random.seed(seed + index)
            np.random.seed(seed + index)
        func = pickle.loads(payload)
    except BaseException as error:
        results.send_bytes(_RESULT.pack(_SETUP, False) + _error_body(error))
        return
    while True:
        try:
            message = tasks.recv_bytes()
        except EOFError:  # the parent is gone
            return
        if not message or stop.value:
            return
        (task_id,) = _TASK.unpack_from(message)
        try:
            value = func(pickle.loads(memoryview(message)[_TASK.size :]))
            ok, body = True, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            ok, body = False, _error_body(error)
        try:
            results.send_bytes(_RESULT.pack(task_id, ok) + body)
        except OSError:  # the parent is gone
            return


def _error_body(error: BaseException) -> bytes:
    """``(pickled error, type name, message, traceback text)`` pickled. An error that does not
    survive pickling here is sent as a ``RuntimeError`` with its type and message; the parent
    falls back on the type name and message when it cannot load the error's class."""
    text = "".join(traceback.format_exception(error))
    kind = f"{type(error).__module__}.{type(error).__qualname__}"
    try:
        pickled = pickle.dumps(error)
        pickle.loads(pickled)
    except Exception:
        pickled = pickle.dumps(RuntimeError(f"{type(error).__qualname__}: {error}"))
    return pickle.dumps((pickled, kind, str(error), text))
