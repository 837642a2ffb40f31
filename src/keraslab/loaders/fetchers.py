"""Loaders: how batches are built on their way to the model (``loader=inline|threads``).

A loader opens a *fetcher* over a ``produce(position) -> batch`` function; the model side asks
the fetcher for positions 0, 1, 2, ... in order. Whatever the loader, ``get(k)`` returns exactly
``produce(k)``: loaders change when and where batches are built, never what they hold.
"""

from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor

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
    """Keeps the next ``depth`` positions in flight on ``executor`` and hands them out in order.

    Asking for a position other than the next one (a new pass over validation data) drops the
    window and starts again there. ``limit`` (None: endless) bounds the positions built. A
    worker's exception is raised by ``get`` for its position, with the worker's traceback.
    """

    def __init__(self, executor: Executor, produce: Produce, depth: int, limit: int | None):
        self.executor = executor
        self.produce = produce
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
            future = self.executor.submit(self.produce, self.next_position)
            self.window.append((self.next_position, future))
            self.next_position += 1

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


class ThreadLoader:
    """``workers`` threads build up to ``max_queue_size`` batches ahead of the model.

    Threads share the interpreter, so they help where batch building releases the GIL (NumPy,
    the Rust tokenizer) or waits on I/O.
    """

    def __init__(self, workers: int = 2, max_queue_size: int = 10):
        self.workers = workers
        self.max_queue_size = max_queue_size

    def open(self, produce: Produce, limit: int | None = None) -> Fetcher:
        executor = ThreadPoolExecutor(self.workers, thread_name_prefix="keraslab-loader")
        return PrefetchingFetcher(executor, produce, self.max_queue_size, limit)
