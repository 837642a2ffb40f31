"""How long a finished run's process takes to exit: Python's own shutdown against
:func:`keraslab.entry.exit_without_final_collection` (the garbage collector frozen after the
exit handlers), in a process that has imported Keras and MLflow, trained a small model and logged
a run, as every job of a sweep has. The two take turns in fresh processes.

    python benchmarks/process_exit.py [--repeats 5]

Exit time: from the child's last statement to the parent seeing it end. Writes
``benchmarks/results/process_exit.md`` with the machine.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from machine import describe  # noqa: E402

CHILD = textwrap.dedent(
    """
    import sys, time
    if sys.argv[1] == "hook":
        from keraslab.entry import exit_without_final_collection
        exit_without_final_collection()
    import keras, mlflow, numpy as np
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(64), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(np.ones((256, 16)), np.ones((256, 1)), epochs=2, verbose=0)
    client = mlflow.MlflowClient(sys.argv[2])
    run = client.create_run(client.create_experiment(str(time.time())))
    client.log_metric(run.info.run_id, "loss", 1.0)
    client.set_terminated(run.info.run_id)
    print(time.time(), flush=True)
    """
)
EXITS = {
    "Python's shutdown": "plain",
    "gc frozen after the exit handlers (keraslab.entry)": "hook",
}


def exit_seconds(mode: str, store: str) -> float:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, store],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    last_statement = float(child.stdout.readline())
    child.wait()
    return time.time() - last_statement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times = {name: [] for name in EXITS}
    with tempfile.TemporaryDirectory() as scratch:
        store = f"sqlite:///{scratch}/mlflow.db"
        for _ in range(args.repeats):
            for name, mode in EXITS.items():
                times[name].append(exit_seconds(mode, store))
                print(f"{name}: {times[name][-1]:.2f} s", flush=True)
    baseline = statistics.median(times["Python's shutdown"])
    lines = [
        "# Process exit after a run: Python's shutdown against the frozen collector",
        "",
        f"Machine: {describe()}. Command: `python benchmarks/process_exit.py --repeats "
        f"{args.repeats}`. Each child imports Keras and MLflow, fits a small model, logs a run "
        "to SQLite and exits; the two exits take turns in fresh processes.",
        "",
        "| exit | median s | range s | vs Python's shutdown |",
        "| --- | --- | --- | --- |",
    ]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(
            f"| {name} | {median:.2f} | {min(values):.2f}–{max(values):.2f} | "
            f"{median / baseline:.2f}× |"
        )
    report = ROOT / "results" / "process_exit.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
