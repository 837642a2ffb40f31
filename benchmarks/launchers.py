"""A sweep of 4 debug jobs: Hydra's basic launcher (one process, jobs one after another)
against ``hydra/launcher=joblib`` (2 worker processes, each a fresh interpreter) and
``hydra/launcher=forkserver`` (2 worker processes forked from a server that imported the stack
as the sweep started), taking turns, each the whole command (start-up, every job, the
comparison at the end); also checks all give the same validation losses.

Two sizes of debug job: the project's debug preset (``debug=fast``: the default model on 2,000
rows of the sentiment corpus in ``data/``, which ``make data`` prepares), and the tests' tiny
encoder on their 400-row corpus (``trainer=debug`` and ``tests/conftest.py``'s sizes).

    python benchmarks/launchers.py [--repeats 3]

Writes ``benchmarks/results/launchers.md`` with the machine and the command.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import DEBUG, write_corpus  # noqa: E402  (the tests' corpus and debug sizes)
from machine import describe  # noqa: E402

CORES = len(os.sched_getaffinity(0))
JOBS = ["optimizer.learning_rate=1e-3,2e-3,3e-3,4e-3"]
LAUNCHERS = {
    "basic (sequential)": [],
    "joblib, 2 workers": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "forkserver, 2 workers": ["hydra/launcher=forkserver", "hydra.launcher.n_jobs=2"],
}
SENTIMENT = ROOT / "data" / "sentiment"


@dataclass
class Workload:
    name: str
    overrides: list[str]


def workloads(scratch: Path) -> list[Workload]:
    if not (SENTIMENT / "sentiment.train.data").is_file():
        sys.exit(f"error: no sentiment corpus in {SENTIMENT}: run `make data` first")
    corpus = write_corpus(scratch / "data", {"train": 400, "valid": 64, "test": 64})
    return [
        Workload(
            "`debug=fast` (the project's debug preset: the default 2-layer, 128-wide encoder, "
            "2,000 sentiment rows, 2 epochs × 6 steps of 64)",
            ["debug=fast"],
        ),
        Workload(
            "the tests' debug jobs (`trainer=debug`, a 1-layer, 32-wide encoder, 400 rows, "
            "2 epochs × 6 steps of 16)",
            [*DEBUG, f"data.data_dir={corpus}"],
        ),
    ]


def sweep(overrides: list[str], folder: Path, launcher: list[str]) -> tuple[float, float, list]:
    """Seconds for the whole command, the CPU seconds of all its processes (user + system,
    job processes included), and the jobs' final validation losses by job number."""
    from mlflow import MlflowClient

    store = f"sqlite:///{folder}/mlflow.db"
    command = [sys.executable, str(ROOT / "scripts" / "run.py"), "-m", *overrides, *JOBS]
    command += [f"hydra.sweep.dir={folder / 'sweep'}", *launcher]
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start, cpu = time.perf_counter(), _children_cpu_seconds()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu_seconds() - cpu
    runs = MlflowClient(store).search_runs(["1"], filter_string="tags.mlflow.parentRunId != ''")
    losses = sorted((int(r.data.tags["job.num"]), r.data.metrics["valid_loss"]) for r in runs)
    return seconds, cpu, [loss for _, loss in losses]


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(workload: Workload, scratch: Path, repeats: int) -> list[str]:
    """The workload's table rows; the launchers take turns, ``repeats`` rounds."""
    times = {name: [] for name in LAUNCHERS}
    cpus = {name: [] for name in LAUNCHERS}
    losses = {}
    for repeat in range(repeats):
        for name, launcher in LAUNCHERS.items():
            folder = Path(tempfile.mkdtemp(dir=scratch))
            seconds, cpu, losses[name] = sweep(workload.overrides, folder, launcher)
            times[name].append(seconds)
            cpus[name].append(cpu)
            print(f"round {repeat + 1}: {name}: {seconds:.1f} s, CPU {cpu:.1f} s", flush=True)
    same = len({tuple(v) for v in losses.values()}) == 1
    baseline = statistics.median(times["basic (sequential)"])
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        cpu = statistics.median(cpus[name])
        rows.append(
            f"| {workload.name} | {name} | {median:.1f} | {min(values):.1f}–{max(values):.1f} | "
            f"{median / baseline:.2f}× | {cpu:.1f} | {cpu / CORES:.1f} | "
            f"{'yes' if same else 'NO'} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lines = [
        "# Launchers: a sweep of 4 debug jobs, basic against joblib and forkserver",
        "",
        f"Machine: {describe()}. Command: `python benchmarks/launchers.py --repeats "
        f"{args.repeats}`. Each time is the whole `scripts/run.py -m` command (start-up, 4 jobs "
        "sweeping the learning rate, the sweep's comparison at the end), a new SQLite store "
        "each time; the launchers take turns. Same results: whether the 4 jobs' final "
        "validation losses are equal under every launcher.",
        "",
        f"CPU s: user + system time of every process of the command; divided by the "
        f"{CORES} cores it is the least wall time the command could take here.",
        "",
        "| debug jobs | launcher | median s | range s | vs basic | median CPU s | "
        "CPU s / cores | same results |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        for workload in workloads(Path(scratch)):
            print(workload.name, flush=True)
            lines += measure(workload, Path(scratch), args.repeats)
    report = ROOT / "benchmarks" / "results" / "launchers.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
