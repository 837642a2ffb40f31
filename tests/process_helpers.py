"""Functions that the process tests send to worker processes, and process-tree probes.

They live in a module of their own, importable from spawned workers, that imports neither
Keras nor the test modules, so a worker starts in a fraction of a second.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from subprocess import PIPE

import numpy as np
import psutil


def square(x: int) -> int:
    return x * x


def noisy(inputs: dict, labels, rng: np.random.Generator) -> tuple:
    """A batch transform that draws from its generator, so batches depend on the seeding."""
    return {"x": inputs["x"] + rng.normal(size=inputs["x"].shape)}, labels


def fail_at_three(position: int) -> int:
    if position == 3:
        raise ValueError("bad line 3 in the corpus")
    return position


def exit_at_three(position: int) -> int:
    if position == 3:
        os._exit(3)
    return position


def sum_of_squares_in_a_pool(position: int, context: str | None = None) -> int:
    """The nested case: a batch function that runs a process pool of its own."""
    import multiprocessing

    mp_context = multiprocessing.get_context(context) if context else None
    with ProcessPoolExecutor(2, mp_context=mp_context) as pool:
        return sum(pool.map(square, range(position + 1)))


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def slow_in_a_pool(position: int) -> int:
    """Keeps a nested pool busy for ``position`` tenths of a second."""
    with ProcessPoolExecutor(2) as pool:
        pool.submit(sleep, position / 10).result()
    return position


def seeded_draws(item: int) -> tuple:
    from keraslab.parallel import worker_index

    return worker_index(), random.random(), float(np.random.random())


def collect_slowly_in_worker_zero(items: list, item: int) -> list:
    """A fold step that takes 50 ms per item in worker 0 and 5 ms in the others."""
    from keraslab.parallel import worker_index

    time.sleep(0.05 if worker_index() == 0 else 0.005)
    return [*items, item]


def add_unless_three(total: int, item: int) -> int:
    return total + fail_at_three(item)


def worker_pid(item: int) -> int:
    return os.getpid()


class Counted:
    """An iterable of ``n`` integers that records how many have been taken from it."""

    def __init__(self, n: int):
        self.n = n
        self.taken = 0

    def __iter__(self):
        for item in range(self.n):
            self.taken += 1
            yield item


def descendants() -> set[int]:
    """Pids of this process's descendants, without multiprocessing's resource tracker (one
    per parent process, it lives as long as the parent does)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if not any("resource_tracker" in part for part in child.cmdline()):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def alive(pids) -> list[int]:
    """Those of ``pids`` still running (a zombie, dead but not yet reaped by init, is not)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            continue
    return running


def interrupt_and_list_survivors(script: str) -> list[int]:
    """Run ``script`` in a fresh interpreter; once it prints the pids of its process tree on
    one line, send it SIGINT. Asserts it died of KeyboardInterrupt; returns the pids still
    running 5 s later."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-c", script]
    with subprocess.Popen(command, stdout=PIPE, stderr=PIPE, text=True, env=env) as parent:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) >= 4, parent.stderr.read()  # two workers and a pool child each
        parent.send_signal(signal.SIGINT)
        _, stderr = parent.communicate(timeout=30)
    assert "KeyboardInterrupt" in stderr
    return wait_until_gone(pids)


def wait_until_gone(pids, timeout: float = 5.0) -> list[int]:
    """Poll until none of ``pids`` runs or ``timeout`` passes; returns those still running."""
    deadline = time.monotonic() + timeout
    while (running := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


MARK = "fresh"  # a test changes it in the parent: a spawned worker must not see the change


def mark(position: int) -> str:
    return MARK


def hang_in_a_pool_from_two(position: int) -> int:
    """Positions 0 and 1 come back at once; later ones wait a minute on a nested pool."""
    if position >= 2:
        slow_in_a_pool(600)
    return position


def _refuse_to_load():
    raise RuntimeError("this object cannot be loaded in a worker")


class LoadsOnlyHere:
    """Pickles fine, but unpickling it (in a worker) raises."""

    def __reduce__(self):
        return _refuse_to_load, ()

    def __call__(self, item):
        return item


def a_lock(item: int):
    return threading.Lock()


class TwoArgumentError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def raise_two_argument_error(item: int):
    raise TwoArgumentError(f"item {item} failed", 7)


def refuse_rows_from_eight(inputs: dict, labels, rng: np.random.Generator) -> tuple:
    """A batch transform that fails on any batch holding row 8 or later."""
    if inputs["x"].max() >= 8:
        raise ValueError(f"bad row {int(inputs['x'].max())} in the corpus")
    return {"x": inputs["x"].astype("float32")}, labels


def raise_worker_only_error(item: int):
    """Raises an exception whose class lives in a module that only this worker can import."""
    import sys
    import tempfile
    from pathlib import Path

    folder = tempfile.mkdtemp()
    Path(folder, "worker_only_errors.py").write_text(
        "class WorkerOnlyError(Exception):\n    pass\n"
    )
    sys.path.insert(0, folder)
    import worker_only_errors

    raise worker_only_errors.WorkerOnlyError(f"item {item} is bad")
