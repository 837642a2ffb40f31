"""Start one run as several data-parallel worker processes on this machine.

python -m keraslab.launch --workers 2 -- trainer.epochs=3 optimizer=lookahead

Each worker is ``scripts/run.py <overrides> distribution=data_parallel`` with ``KERAS_BACKEND=jax``,
``KERASLAB_WORKERS``, ``KERASLAB_WORKER_INDEX`` and ``KERASLAB_COORDINATOR`` (127.0.0.1 and a
free port, unless ``--coordinator``) set. Worker 0, the chief, runs in the foreground as a
single run would: its output is the launcher's, and it alone logs to MLflow and keeps the run
folder. The others write their output to a scratch folder, shown when they fail. When a worker
exits with an error or dies, the others get ``--grace`` seconds to end on their own (the
chief's collectives fail at once, and it marks the MLflow run FAILED), then are killed with
their process groups; the launcher then exits with status 1, naming the worker. Ctrl-C goes to
every worker; they stop after the same step (the run is KILLED and resumable, as a single
run's), and the launcher exits with status 130 (killing them after a minute if they have not).
``--cpus-per-worker k`` pins worker ``i`` to CPUs ``[i k, (i + 1) k)`` of those this process may
use, so that workers sharing a machine do not oversubscribe its cores.
"""

import argparse
import contextlib
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RUN_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run.py"
POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
INTERRUPT_GRACE = 60.0  # seconds for the workers to end an epoch's checkpoint and tracking
LOG_TAIL_LINES = 30


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    coordinator = args.coordinator or f"127.0.0.1:{_free_port()}"
    with tempfile.TemporaryDirectory(prefix="keraslab-launch-") as scratch:
        workers = [_start(index, args, coordinator, Path(scratch)) for index in range(args.workers)]
        return _supervise(workers, args.grace)


def _arguments(argv):
    parser = argparse.ArgumentParser(
        prog="python -m keraslab.launch", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--coordinator", help="the chief's host:port (default 127.0.0.1:<free>)")
    parser.add_argument(
        "--grace", type=float, default=10.0, help="seconds the others get after a failure"
    )
    parser.add_argument(
        "--cpus-per-worker", type=int, help="pin each worker to its own CPUs (default: unpinned)"
    )
    parser.add_argument("overrides", nargs="*", help="run.py's overrides, after --")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be an integer >= 1, got {args.workers}")
    cpus = len(os.sched_getaffinity(0))
    if args.cpus_per_worker is not None and not 1 <= args.cpus_per_worker * args.workers <= cpus:
        parser.error(
            f"--cpus-per-worker {args.cpus_per_worker} x --workers {args.workers} must be "
            f"between 1 and the {cpus} CPUs this process may use"
        )
    if any(o in ("-m", "--multirun") for o in args.overrides):
        parser.error("a launched run is one run: drop -m (sweeps launch one job at a time)")
    return args


class _Worker:
    def __init__(self, index: int, process: subprocess.Popen, log: Path | None):
        self.index, self.process, self.log = index, process, log

    def describe(self) -> str:
        code = self.process.returncode
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return f"worker {self.index} (pid {self.process.pid}, {how})"

    def tail(self) -> str:
        if self.log is None or not self.log.is_file():
            return ""
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(f"  [worker {self.index}] {line}" for line in lines[-LOG_TAIL_LINES:])


def _start(index: int, args, coordinator: str, scratch: Path) -> _Worker:
    env = {
        **os.environ,
        "KERASLAB_WORKERS": str(args.workers),
        "KERASLAB_WORKER_INDEX": str(index),
        "KERASLAB_COORDINATOR": coordinator,
        "KERAS_BACKEND": "jax",
        "TMPDIR": str(_folder(scratch / f"tmp-{index}")),  # its scratch goes with the launcher's
    }
    command = [sys.executable, str(RUN_SCRIPT), *args.overrides, "distribution=data_parallel"]
    options = {"env": env, "start_new_session": True, "preexec_fn": _before_exec(index, args)}
    if index == 0:
        return _Worker(index, subprocess.Popen(command, **options), None)
    # the chief's run folder is the run's; the others' output goes to scratch
    command = [o for o in command if not o.startswith("hydra.run.dir=")]
    command.append(f"hydra.run.dir={scratch / f'worker-{index}'}")
    log = scratch / f"worker-{index}.log"
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **options)
    return _Worker(index, process, log)


def _before_exec(index: int, args):
    """What a worker runs before its program: asking Linux to send it a Ctrl-C should the
    launcher die (so no worker outlives it), and pinning it to its CPUs."""
    cpus = None
    if args.cpus_per_worker is not None:
        allowed = sorted(os.sched_getaffinity(0))
        cpus = allowed[index * args.cpus_per_worker : (index + 1) * args.cpus_per_worker]

    def prepare():
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a launcher started with & ignores it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    return prepare


def _supervise(workers: list[_Worker], grace: float) -> int:
    """Wait for every worker; on the first failure stop the rest. Ctrl-C is passed on."""
    interrupted = []

    def forward(signum, frame):
        # every worker stops after the same step (StopTogether); the chief marks the run KILLED
        interrupted.append(signum)
        _signal_all(workers, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, forward)
    try:
        failed = _first_failure(workers, interrupted)
        if interrupted:
            _stop_others(workers, INTERRUPT_GRACE)
            return 130
        if failed is not None:
            _stop_others(workers, grace)
            print(
                f"keraslab.launch: {failed.describe()} failed; stopped the other workers.\n"
                + failed.tail(),
                file=sys.stderr,
                flush=True,
            )
            return 1
        return 0
    finally:
        signal.signal(signal.SIGINT, previous)
        _kill_all(workers)


def _first_failure(workers: list[_Worker], interrupted: list) -> _Worker | None:
    """The first worker to end with an error; None if all succeed or Ctrl-C came. One thread
    waits for each worker, so "first" is the order they ended in: when a worker dies, the
    others' collectives fail within milliseconds, and reaping zombies in turn could name any."""
    ended: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
    for worker in workers:
        threading.Thread(target=_wait, args=(worker, ended), daemon=True).start()
    for _ in workers:
        worker = _next_to_end(ended, interrupted)
        if worker is None or worker.process.returncode != 0:
            return worker
    return None


def _next_to_end(ended: "queue.SimpleQueue[_Worker]", interrupted: list) -> _Worker | None:
    """The next worker to end; None once Ctrl-C came (waited for in slices, to see it)."""
    while not interrupted:
        with contextlib.suppress(queue.Empty):
            return ended.get(timeout=POLL_SECONDS)
    return None


def _wait(worker: _Worker, ended: "queue.SimpleQueue[_Worker]") -> None:
    worker.process.wait()
    ended.put(worker)


def _stop_others(workers: list[_Worker], grace: float) -> None:
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(w.process.poll() is None for w in workers):
        time.sleep(POLL_SECONDS)
    _kill_all(workers)


def _signal_all(workers: list[_Worker], signum: int) -> None:
    for worker in workers:
        if worker.process.poll() is None:
            _signal_group(worker, signum)


def _kill_all(workers: list[_Worker]) -> None:
    """SIGKILL each worker's process group (its loader processes too), then reap them."""
    for worker in workers:
        _signal_group(worker, signal.SIGKILL)
        worker.process.wait()


def _signal_group(worker: _Worker, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.process.pid, signum)


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
