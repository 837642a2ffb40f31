"""Loaders: how batches are built on their way to the model (``loader=inline|threads|processes``).

A loader opens a *fetcher* over a ``produce(position) -> batch`` function; the model side asks
the fetcher for positions 0, 1, 2, ... in order. Whatever the loader, ``get(k)`` returns exactly
``produce(k)``: loaders change when and where batches are built, never what they hold.
"""

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from keraslab.config_checks import integer
from keraslab.process_pool import WorkerPool

# The config checks of the loaders with workers (see keraslab.config_checks).
WORKER_CHECKS = {"workers": integer(1), "max_queue_size": integer(1)}

Produce = Callable[[int], tuple]


class Fetcher:
    """``get(position)``: the batch at ``position``; ``close()`` releases workers. A context manager."""

    def get(self, position: int) -> tuple:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InlineFetcher(Fetcher):
    def __init__(self, produce: Produce):
        self.produce = produce

    def get(self, position: int) -> tuple:
        return self.produce(position)


class InlineLoader:
    """Each batch is built when the model asks for it, in the asking thread: no workers."""

    def open(self, produce: Produce, limit: int | None = None) -> Fetcher:
        return InlineFetcher(produce)


class PrefetchingFetcher(Fetcher):
    """Keeps the next ``depth`` positions in flight and hands them out in order.

    ``submit(position)`` starts building a batch and returns its future; ``shutdown()`` releases
    the workers. Asking for a position other than the next one (a new pass over validation data)
    drops the window and starts again there. ``limit`` (None: endless) bounds the positions
    built. A worker's exception is raised by ``get`` for its position, with the worker's traceback.
    """

    def __init__(
        self,
        submit: Callable[[int], Future],
        shutdown: Callable[[], None],
        depth: int,
        limit: int | None,
    ):
        self.submit = submit
        self.shutdown = shutdown
        self.depth = depth
        self.limit = limit
        self.window: deque[tuple[int, Future]] = deque()
        self.next_position = 0

    def get(self, position: int) -> tuple:
        if not self.window or self.window[0][0] != position:
            self._restart(position)
        _, future = self.window.popleft()
        self._fill()
        return future.result()

    def _restart(self, position: int) -> None:
        for _, future in self.window:
            future.cancel()
        self.window.clear()
        self.next_position = position
        self._fill()

    def _fill(self) -> None:
        while len(self.window) < self.depth and (
            self.limit is None or self.next_position < self.limit
        ):
            future = self.submit(self.next_position)
            self.window.append((self.next_position, future))
            self.next_position += 1

    def close(self) -> None:
        self.shutdown()


class ThreadLoader:
    """``workers`` threads build up to ``max_queue_size`` batches ahead of the model.

    Threads share the interpreter, so they help where batch building releases the GIL (NumPy,
    the Rust tokenizer) or waits on I/O.
    """

    config_checks = WORKER_CHECKS

    def __init__(self, workers: int = 2, max_queue_size: int = 10):
        self.workers = workers
        self.max_queue_size = max_queue_size

    def open(self, produce: Produce, limit: int | None = None) -> Fetcher:
        executor = ThreadPoolExecutor(self.workers, thread_name_prefix="keraslab-loader")
        shutdown = partial(executor.shutdown, wait=True, cancel_futures=True)
        return PrefetchingFetcher(
            partial(executor.submit, produce), shutdown, self.max_queue_size, limit
        )


class ProcessLoader:
    """``workers`` processes build up to ``max_queue_size`` batches ahead of the model.

    For batch building that holds the GIL (Python-level tokenization, augmentation). Built on
    :class:`keraslab.process_pool.WorkerPool`: processes start with ``spawn`` when a fetcher
    opens and stop when it closes; ``produce`` is pickled once, when the fetcher opens (a
    ``Schedule`` is picklable; a lambda or closure is refused with a ``TypeError``), and each
    request sends only a position. Each batch is ``produce(position)`` exactly, whichever worker builds it. A worker's
    exception is raised by ``get`` with its traceback; a worker that dies raises
    ``WorkerDiedError`` within a fraction of a second; closing the fetcher (also after an error
    or Ctrl-C) leaves no process behind, including any that ``produce`` started itself.
    """

    config_checks = WORKER_CHECKS

    def __init__(self, workers: int = 2, max_queue_size: int = 10):
        for name, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"loader.{name} must be an integer >= 1, got {value!r}")
        self.workers = workers
        self.max_queue_size = max_queue_size

    def open(self, produce: Produce, limit: int | None = None) -> Fetcher:
        pool = WorkerPool(produce, self.workers, name="keraslab-loader")
        return PrefetchingFetcher(pool.submit, pool.close, self.max_queue_size, limit)
