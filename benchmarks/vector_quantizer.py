"""The vector quantizer's training step: one matrix product against a naive (N, K, D) distance.

``VectorQuantizer`` finds the nearest code by ``‖z‖² − 2 z·e + ‖e‖²`` (an (N, K) matrix product);
the naive peer subtracts every code from every vector, ``‖z[:, None] − e[None]‖²``, which holds an
(N, K, D) tensor. Each (candidate, K) runs in its own process: a compiled step (forward,
straight-through backward, Adam update of the codebook) on a batch of 256 × 8 × 8 vectors of
D = 64, timed over ``--steps`` after warm-up; peak memory is the process's peak resident size
minus its size before the first step. Where the naive tensor would exceed ``--naive-limit-gb``
it is not run, and its size is reported instead.

    python benchmarks/vector_quantizer.py       # writes benchmarks/results/vector_quantizer.md
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe

RESULTS = Path(__file__).parent / "results"
BATCH, GRID, DIM = 256, 8, 64


def measure(kind: str, codes: int, steps: int) -> dict:
    """In this process: seconds per step and peak memory growth of one candidate."""
    import resource
    import time

    import keras
    import numpy as np
    from keras import ops

    import keraslab  # noqa: F401
    from keraslab.models.vector_quantizer import VectorQuantizer

    class NaiveQuantizer(VectorQuantizer):
        def nearest(self, flat):
            difference = flat[:, None, :] - self.codebook_vectors()[None, :, :]
            return ops.argmin(ops.sum(difference**2, axis=-1), axis=1)

    layer = (NaiveQuantizer if kind == "naive" else VectorQuantizer)(codes, seed=0)
    inputs = keras.Input((GRID, GRID, DIM))
    quantized, _ = layer(inputs)
    model = keras.Model(inputs, quantized)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    z = np.random.default_rng(0).normal(size=(BATCH, GRID, GRID, DIM)).astype("float32")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(2):
        model.train_on_batch(z, z)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(z, z)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": statistics.median(times), "peak_mib": (peak - before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--codes", type=int, nargs="+", default=[512, 4096])
    parser.add_argument("--naive-limit-gb", type=float, default=6.0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.steps)))
        return

    vectors = BATCH * GRID * GRID
    rows = [
        "| K | ours: ms/step | ours: peak MiB | naive: ms/step | naive: peak MiB | time ratio | memory ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for codes in args.codes:
        found = {}
        for kind in ("ours", "naive"):
            naive_bytes = vectors * codes * DIM * 4
            if kind == "naive" and naive_bytes > args.naive_limit_gb * 2**30:
                found[kind] = None
                continue
            output = subprocess.run(
                [sys.executable, __file__, "--steps", str(args.steps), "--child", kind, str(codes)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found[kind] = json.loads(output.strip().splitlines()[-1])
        ours, naive = found["ours"], found["naive"]
        if naive is None:
            naive_cells = f"not run | (N, K, D) tensor alone {vectors * codes * DIM * 4 / 2**30:.1f} GiB | — | —"
        else:
            naive_cells = (
                f"{1000 * naive['seconds']:.1f} | {naive['peak_mib']:.0f} | "
                f"{ours['seconds'] / naive['seconds']:.2f}× | {ours['peak_mib'] / naive['peak_mib']:.2f}×"
            )
        rows.append(
            f"| {codes} | {1000 * ours['seconds']:.1f} | {ours['peak_mib']:.0f} | {naive_cells} |"
        )
    import keras

    report = "\n\n".join(
        [
            "# Vector quantizer: one matrix product against the (N, K, D) distance",
            f"Machine: {describe()}. Command: `{' '.join(['python', *sys.argv])}`.",
            f"Training step (forward, straight-through backward, Adam on the codebook) on "
            f"{BATCH} × {GRID} × {GRID} = {vectors} vectors of D = {DIM}; median of "
            f"{args.steps} steps after 2 warm-up; peak memory growth over the process's size "
            f"before the first step; each cell its own process (Keras {keras.__version__}).",
            "\n".join(rows),
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "vector_quantizer.md"
    path.write_text(report + "\n")
    print(report)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
