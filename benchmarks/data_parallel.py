"""Training samples/s of the default experiment: 2 data-parallel workers with 1 CPU each
(``python -m keraslab.launch --workers 2 --cpus-per-worker 1``) against 1 process with both
CPUs, and 1 process pinned to 1 CPU; all on JAX, same global batch.

    python benchmarks/data_parallel.py [--repeats 2] [--steps 12]

Each configuration runs the default experiment twice, for 1 and for 3 epochs of ``--steps``
updates (validation cut to 1 batch); the difference is 2 epochs of steady training with no
start-up, data preparation or compilation in it: samples/s = 2 x steps x batch / (T3 - T1).
Every batch is padded to ``maxlen`` (``data.pad_to_multiple=null data.length_grouping=null``),
so that all steps have one shape and none compiles inside the measured epochs (the default
widths vary from batch to batch, and JAX compiles once per width). From the three rates it
derives the cost of synchronising one step's gradients, ``sync = t(2 workers) - t(1 CPU) / 2``
per step, and what that predicts for N machines. Writes
``benchmarks/results/data_parallel_<cpu kind>.md`` with the machine and the command.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("KERAS_BACKEND", "jax")

from length_bucketing import FULL_WIDTH  # noqa: E402
from machine import cpu_kind, describe  # noqa: E402

RUN = [sys.executable, str(ROOT / "scripts" / "run.py")]
LAUNCH = [sys.executable, "-m", "keraslab.launch"]
CONFIGURATIONS = {
    "1 process x 1 CPU": ["taskset", "-c", "0", *RUN],
    "1 process x 2 CPUs": RUN,
    "2 workers x 1 CPU": [*LAUNCH, "--workers", "2", "--cpus-per-worker", "1", "--"],
}
BATCH = 64  # conf/data/sentiment.yaml


def seconds(command: list[str], epochs: int, steps: int, folder: Path) -> float:
    """Wall seconds of the whole command, for ``epochs`` epochs of ``steps`` updates."""
    overrides = [
        f"trainer.epochs={epochs}",
        f"trainer.steps_per_epoch={steps}",
        *FULL_WIDTH,
        "trainer.validation_steps=1",
        "trainer.verbose=0",
        f"hydra.run.dir={folder}",
    ]
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder.parent}/mlflow.db",
    }
    start = time.perf_counter()
    subprocess.run([*command, *overrides], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def trainable_parameters(folder: Path) -> int:
    """From the run's own model summary (logged to MLflow)."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{folder.parent}/mlflow.db")
    run = client.search_runs(["1"], max_results=1)[0]
    text = Path(client.download_artifacts(run.info.run_id, "model_summary.txt", str(folder)))
    found = re.search(r"Trainable params: ([\d,]+)", text.read_text(encoding="utf-8"))
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    rates = {name: [] for name in CONFIGURATIONS}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            for name, command in CONFIGURATIONS.items():
                folder = Path(scratch) / f"{repeat}-{len(rates[name])}-{name.split()[0]}"
                short = seconds(command, 1, args.steps, folder / "short")
                long = seconds(command, 3, args.steps, folder / "long")
                rates[name].append(2 * args.steps * BATCH / (long - short))
                print(f"round {repeat + 1}: {name}: {rates[name][-1]:.1f} samples/s", flush=True)
        parameters = trainable_parameters(folder / "long")
    report(
        args, {name: statistics.median(values) for name, values in rates.items()}, rates, parameters
    )


def report(args, median: dict[str, float], rates: dict[str, list[float]], parameters: int):
    one_cpu, both, workers = (median[name] for name in CONFIGURATIONS)
    step_one_cpu, step_both, step_workers = (BATCH / rate for rate in (one_cpu, both, workers))
    sync = step_workers - step_one_cpu / 2
    megabytes = parameters * 4 / 1e6
    lines = [
        "# Data parallel on one 2-CPU machine: 2 workers x 1 CPU against 1 process x 2 CPUs",
        "",
        f"Machine: {describe()}. Command: `python benchmarks/data_parallel.py --repeats "
        f"{args.repeats} --steps {args.steps}`. The default experiment (tiny encoder, global "
        f"batch {BATCH} x 128 tokens, {parameters:,} trainable parameters = {megabytes:.1f} MB of "
        "float32 gradients a step) on JAX; samples/s over 2 epochs of steady training (the "
        "difference of a 3-epoch and a 1-epoch run, so start-up and compilation drop out); every "
        f"batch padded to maxlen (`{' '.join(FULL_WIDTH)}`), one shape for all steps.",
        "",
        "| configuration | samples/s (median) | rounds | vs 1 process x 2 CPUs |",
        "| --- | --- | --- | --- |",
    ]
    for name, value in median.items():
        rounds = ", ".join(f"{v:.1f}" for v in rates[name])
        lines.append(f"| {name} | {value:.1f} | {rounds} | {value / both:.2f}× |")
    lines += [
        "",
        "## What it predicts",
        "",
        f"- One step: {step_one_cpu * 1e3:.0f} ms on 1 CPU, {step_both * 1e3:.0f} ms on 2 CPUs in "
        f"one process, {step_workers * 1e3:.0f} ms for 2 workers with 1 CPU each. Half the 1-CPU "
        f"step is {step_one_cpu / 2 * 1e3:.0f} ms, so working in lock-step costs "
        f"**{sync * 1e3:.0f} ms a step** here. At loopback speeds (GB/s) the "
        f"{megabytes:.1f} MB themselves take a few ms of that (not measured apart); the rest is "
        "each worker's single CPU also running Gloo's threads, the data and Python, and the "
        "host waiting for every step (the Ctrl-C check and the step metrics), which leaves no "
        "step queued behind the running one.",
        f"- N machines of this kind, one worker each, global batch {BATCH}: a step takes about "
        f"t(N) = {step_both * 1e3:.0f} ms / N + sync(N). A ring all-reduce sends 2 (N-1)/N x "
        f"{megabytes:.1f} MB per worker a step: on a 10 Gbit/s network (1.25 GB/s) that is "
        f"{2 * megabytes / 1250 * 1e3:.1f} ms at most, plus latency. Taking this machine's "
        f"{sync * 1e3:.0f} ms as the cost a step (an upper bound: those workers had 1 CPU "
        "each), "
        + ", ".join(
            f"N={n}: {step_both / (step_both / n + sync):.1f}× one machine" for n in (2, 4, 8)
        )
        + ". The global batch stays the same, so each worker's share shrinks with N: past the "
        "point where the share no longer fills a machine, raise `data.batch_size` with N.",
    ]
    path = ROOT / "benchmarks" / "results" / f"data_parallel_{cpu_kind()}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
