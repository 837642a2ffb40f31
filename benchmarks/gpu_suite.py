"""The GPU suite: what a lent GPU machine runs in one call (at most 8 minutes), and what CPU runs
in seconds with ``--smoke`` (in ``make test``).

1. The BERT training step at BERT-base size (12 x 768, 12 heads, FFN 3072, vocab 30522; random
   weights, a 2-way head on [CLS], Adam) under JAX in ``mixed_bfloat16``, batches 32 x 128 and
   128 x 512: median step time and model FLOPs utilisation, ``6 N + 12 L d S`` FLOPs per token
   (N the non-embedding weights; PaLM's count) against the chip's dense bf16 peak.
2. ``experiment=ema_ablation`` and ``experiment=accum_ablation`` with the ``small`` encoder
   (3 x 256), each a sweep through ``scripts/run.py`` in its own process, logged to an MLflow
   SQLite store in the output folder, and their comparison tables (``scripts/compare.py``).

    python benchmarks/gpu_suite.py --out DIR [--smoke] [--data-dir DIR] [--peak-tflops T]

Writes ``DIR/gpu_suite.md`` (the machine, the tables) and ``DIR/mlflow.db``; the runs' folders
and artifacts go to ``DIR/outputs/`` (``--out`` under the device's ``$OUT`` brings back the two
files). On the GPU machine (Python 3.12, JAX on CUDA, no registry) Keras, Hydra, OmegaConf and
MLflow's client come along as wheels: ``make gpu-wheels`` (README, "Backends, precision and
GPUs").
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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


def ablation(experiment: str, overrides: list[str], out: Path, store: str) -> str:
    """Run ``experiment`` (a sweep) in its own process and return its comparison table."""
    sweep = out / "outputs" / experiment
    command = [sys.executable, str(ROOT / "scripts" / "run.py"), f"experiment={experiment}"]
    command += ["backend=jax", *overrides, f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{experiment} failed:\n{result.stderr[-3000:]}")
    minutes = (time.perf_counter() - start) / 60
    table = (sweep / "comparison" / "comparison.md").read_text(encoding="utf-8")
    return f"### `{experiment}` ({minutes:.1f} min)\n\n{table}"


def device() -> str:
    import jax

    first = jax.devices()[0]
    return f"{len(jax.devices())} x {first.device_kind} ({first.platform}), JAX {jax.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds on CPU")
    parser.add_argument("--data-dir", help="the sentiment corpus (default: data/sentiment)")
    parser.add_argument("--peak-tflops", type=float, help="the chip's dense bf16 peak")
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ.setdefault("KERASLAB_ROOT", str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from machine import describe

    args.out.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{args.out.resolve()}/mlflow.db"
    start = time.perf_counter()
    kind = device()
    peak = args.peak_tflops or PEAKS.get(kind.split(" (")[0].split(" x ", 1)[1])
    config, shapes = (TINY, [(2, 16), (2, 32)]) if args.smoke else (BASE, [(32, 128), (128, 512)])
    steps = bert_steps(config, shapes, repeats=3 if args.smoke else 10)
    run = SMOKE_RUN if args.smoke else ["model/encoder=small"]
    run = [*run, f"paths.output_dir={args.out.resolve() / 'outputs'}"]
    if args.data_dir:
        run.append(f"data.data_dir={args.data_dir}")
    tables = [ablation(name, run, args.out, store) for name in ("ema_ablation", "accum_ablation")]

    size = "tiny (smoke)" if args.smoke else "BERT-base"
    lines = [
        f"# GPU suite{' (smoke)' if args.smoke else ''}",
        "",
        f"Machine: {describe()}; device: {kind}. Command: `python benchmarks/gpu_suite.py"
        f"{' --smoke' if args.smoke else ''}`, {(time.perf_counter() - start) / 60:.1f} min.",
        "",
        f"## BERT training step, {size}, JAX, mixed_bfloat16",
        "",
        f"Model FLOPs per token 6 N + 12 L d S; peak {peak or 'unknown'} TFLOP/s (dense bf16).",
        "",
        "| batch x length | median step s | model TFLOP/s | MFU |",
        "| --- | --- | --- | --- |",
    ]
    for step in steps:
        mfu = f"{100 * step['tflops'] / peak:.1f} %" if peak else "n/a"
        lines.append(f"| {step['shape']} | {step['seconds']:.4f} | {step['tflops']:.2f} | {mfu} |")
    lines += ["", "## Ablations on the GPU (`model/encoder=small`, JAX)", "", *tables]
    (args.out / "gpu_suite.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
