"""The GPU suite: what a lent GPU machine runs in one call (at most 8 minutes), and what CPU runs
in seconds with ``--smoke`` (in ``make test``).

1. The BERT training step at BERT-base size (12 x 768, 12 heads, FFN 3072, vocab 30522; random
   weights, a 2-way head on [CLS], Adam) under JAX in ``mixed_bfloat16``, batches 32 x 128 and
   128 x 512: median step time and model FLOPs utilisation, ``6 N + 12 L d S`` FLOPs per token
   (N the non-embedding weights; PaLM's count) against the chip's dense bf16 peak.
2. ``experiment=ema_ablation`` and ``experiment=accum_ablation`` with the ``small`` encoder
   (3 x 256), each a sweep through ``scripts/run.py`` in its own process, side by side, their
   jobs ``--jobs`` at a time in the joblib launcher's workers (one job at a time, they took 4.7
   and about 8.3 minutes on an H200, mostly per-job fixed costs:
   ``benchmarks/results/gpu_suite_h200.md``), logged to an MLflow SQLite store in the output
   folder, and their comparison tables (``scripts/compare.py``).

    python benchmarks/gpu_suite.py --out DIR [--smoke] [--jobs N] [--data-dir DIR] [--peak-tflops T]

Writes ``DIR/gpu_suite.md`` (the machine, the tables, rewritten after each part), the sweeps'
logs ``DIR/<experiment>.log`` and ``DIR/mlflow.db``; the runs' folders and artifacts go to
``DIR/outputs/`` (run it with ``--out`` outside the device's ``$OUT`` and copy those files
there: ``$OUT`` brings back 8 files). On the GPU machine (Python 3.12, JAX on CUDA, no
registry) Keras, Hydra, OmegaConf and MLflow's client come along as wheels: ``make
gpu-wheels`` (README, "Backends, precision and GPUs").
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from length_bucketing import FULL_WIDTH  # noqa: E402

BASE = dict(num_layers=12, hidden_size=768, num_heads=12, intermediate_size=3072, vocab_size=30522)
TINY = dict(num_layers=2, hidden_size=64, num_heads=2, intermediate_size=128, vocab_size=1000)
# Dense bfloat16 peaks (TFLOP/s) from the makers' data sheets, by JAX's device_kind.
PEAKS = {"NVIDIA H200": 989.0, "NVIDIA H100 80GB HBM3": 989.0, "NVIDIA A100-SXM4-80GB": 312.0}
SMOKE_RUN = [
    "trainer=debug",
    "model.encoder.num_layers=1",
    "model.encoder.hidden_size=32",
    "model.encoder.num_heads=2",
    "model.encoder.intermediate_size=64",
    "data.maxlen=32",
    "data.min_char_count=1",
]


def training_flops(config: dict, batch: int, length: int) -> float:
    """Model FLOPs of one training step: ``(6 N + 12 L d S)`` per token, N the transformer
    blocks' weights (4 d^2 + 2 d f per layer, biases and norms left out)."""
    layers, width, ffn = config["num_layers"], config["hidden_size"], config["intermediate_size"]
    weights = layers * (4 * width * width + 2 * width * ffn)
    return batch * length * (6 * weights + 12 * layers * width * length)


def bert_steps(config: dict, shapes: list[tuple[int, int]], repeats: int) -> list[dict]:
    """Median seconds per training step of each ``(batch, length)``, after two warm-up steps."""
    import keras
    import numpy as np

    from keraslab.models import BertBackbone

    keras.config.set_dtype_policy("mixed_bfloat16")
    backbone = BertBackbone(**config, max_positions=max(length for _, length in shapes))
    logits = keras.layers.Dense(2, dtype="float32")(backbone.output["sequence_output"][:, 0])
    model = keras.Model(backbone.input, logits)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    results = []
    for batch, length in shapes:
        rng = np.random.default_rng(0)
        inputs = {
            "token_ids": rng.integers(1, config["vocab_size"], (batch, length), dtype="int32"),
            "segment_ids": np.zeros((batch, length), "int32"),
            "padding_mask": np.ones((batch, length), "int32"),
        }
        labels = rng.integers(0, 2, batch).astype("int32")
        for _ in range(2):
            model.train_on_batch(inputs, labels)  # returns numbers: the step has finished
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.train_on_batch(inputs, labels)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        results.append(
            {
                "shape": f"{batch} x {length}",
                "seconds": seconds,
                "tflops": training_flops(config, batch, length) / seconds / 1e12,
            }
        )
    keras.config.set_dtype_policy("float32")
    return results


def start_ablation(experiment: str, overrides: list[str], out: Path, store: str, jobs: int):
    """Start ``experiment`` (a sweep) in its own process, its jobs ``jobs`` at a time in the joblib
    launcher's workers; its log goes to ``out/<experiment>.log``."""
    command = [sys.executable, str(ROOT / "scripts" / "run.py"), f"experiment={experiment}"]
    command += ["backend=jax", "hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"]
    command += [*overrides, f"hydra.sweep.dir={out / 'outputs' / experiment}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(out / f"{experiment}.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, time.perf_counter()


def ablation_table(experiment: str, out: Path, started) -> str:
    """Wait for a sweep started by ``start_ablation`` and return its comparison table, or the end
    of its log where it failed."""
    process, start = started
    code = process.wait()
    minutes = (time.perf_counter() - start) / 60
    if code:
        tail = (out / f"{experiment}.log").read_text(encoding="utf-8")[-3000:]
        return f"### `{experiment}` FAILED (exit {code}, {minutes:.1f} min)\n\n```\n{tail}\n```\n"
    table = (out / "outputs" / experiment / "comparison" / "comparison.md").read_text("utf-8")
    return f"### `{experiment}` ({minutes:.1f} min)\n\n{table}"


def create_store(store: str) -> None:
    """Create the SQLite store's tables before two sweeps start at once (each would migrate it)."""
    from mlflow.tracking import MlflowClient

    MlflowClient(store).search_experiments()


def device() -> str:
    import jax

    first = jax.devices()[0]
    return f"{len(jax.devices())} x {first.device_kind} ({first.platform}), JAX {jax.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds on CPU")
    parser.add_argument("--data-dir", help="the sentiment corpus (default: data/sentiment)")
    parser.add_argument(
        "--jobs", type=int, default=3, help="each sweep's jobs at a time (the GPU is shared)"
    )
    parser.add_argument("--peak-tflops", type=float, help="the chip's dense bf16 peak")
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = "jax"
    # JAX takes 75 % of the GPU's memory up front by default: the sweeps' processes share the GPU
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("KERASLAB_ROOT", str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from machine import describe

    args.out.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{args.out.resolve()}/mlflow.db"
    start = time.perf_counter()
    kind = device()
    peak = args.peak_tflops or PEAKS.get(kind.split(" (")[0].split(" x ", 1)[1])
    config, shapes = (TINY, [(2, 16), (2, 32)]) if args.smoke else (BASE, [(32, 128), (128, 512)])
    size = "tiny (smoke)" if args.smoke else "BERT-base"
    lines = [
        f"# GPU suite{' (smoke)' if args.smoke else ''}",
        "",
        f"Machine: {describe()}; device: {kind}. Command: `python benchmarks/gpu_suite.py"
        f"{' --smoke' if args.smoke else ''}`.",
        "",
        f"## BERT training step, {size}, JAX, mixed_bfloat16",
        "",
        f"Model FLOPs per token 6 N + 12 L d S; peak {peak or 'unknown'} TFLOP/s (dense bf16).",
        "",
    ]
    try:
        steps = bert_steps(config, shapes, repeats=3 if args.smoke else 10)
    except Exception as error:  # the ablations still run: a lent GPU is rarely lent twice
        steps = []
        lines.append(f"FAILED: {type(error).__name__}: {error}")
    if steps:
        lines += [
            "| batch x length | median step s | model TFLOP/s | MFU |",
            "| --- | --- | --- | --- |",
        ]
    for step in steps:
        mfu = f"{100 * step['tflops'] / peak:.1f} %" if peak else "n/a"
        lines.append(f"| {step['shape']} | {step['seconds']:.4f} | {step['tflops']:.2f} | {mfu} |")
    report(args.out, lines)

    # One batch width a run (padded to maxlen, plain shuffling): JAX compiles once per width, so
    # each job compiles once; whether cut batches pay for their compiles on a GPU is not measured.
    run = SMOKE_RUN if args.smoke else ["model/encoder=small", *FULL_WIDTH]
    run = [*run, f"paths.output_dir={args.out.resolve() / 'outputs'}"]
    if args.data_dir:
        run.append(f"data.data_dir={args.data_dir}")
    names = ("ema_ablation", "accum_ablation")
    create_store(store)
    started = [start_ablation(name, run, args.out, store, args.jobs) for name in names]
    tables = [
        ablation_table(name, args.out, process)
        for name, process in zip(names, started, strict=True)
    ]
    lines += ["", "## Ablations on the GPU (`model/encoder=small`, JAX)", ""]
    lines += [f"The two sweeps ran side by side, {args.jobs} jobs at a time each.", "", *tables]
    lines.append(f"Whole suite: {(time.perf_counter() - start) / 60:.1f} min.")
    report(args.out, lines)
    if not steps or any("FAILED" in table.split("\n", 1)[0] for table in tables):
        raise SystemExit("part of the suite failed: see gpu_suite.md")


def report(out: Path, lines: list[str]) -> None:
    """(Re)write ``out/gpu_suite.md`` and print it: written after each part, so a run cut off by
    the machine's time limit still brings back what it measured."""
    text = "\n".join(lines) + "\n"
    (out / "gpu_suite.md").write_text(text, encoding="utf-8")
    print(text, flush=True)


if __name__ == "__main__":
    main()
