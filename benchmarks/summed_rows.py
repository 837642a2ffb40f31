"""The cost of summing duplicate embedding rows (``SumDuplicateRows``) before Adam.

Two candidates on the default classifier (the one ``optimizer_wrappers.py`` times: 2 x 128
encoder, batch 64 x 128, a 5,000-token vocab, so most rows of the word table repeat in a batch):
Keras's ``Adam`` alone, and ``SumDuplicateRows(Adam)``, the stack ``build_optimizer`` always
builds. They take turns (A/B interleaved) for ``--repeats`` rounds; the ratio is the median of
the per-round ratios.

- Whole training step (``train_on_batch``): what a run pays.
- The update alone (TensorFlow): ``optimizer.apply`` in a ``tf.function`` with the gradients
  of one real batch, the embedding table's as ``IndexedSlices`` with its duplicate rows, so the
  summing is in what is timed.

    python benchmarks/summed_rows.py            # writes benchmarks/results/summed_rows.md
"""

import argparse
import statistics
import sys
from pathlib import Path

import keraslab  # noqa: F401  (its TensorFlow defaults, set before anything imports keras)

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe, interleaved_times
from optimizer_wrappers import BATCH, MAXLEN, batch, compiled_classifier

RESULTS = Path(__file__).parent / "results"


def candidates() -> dict:
    import keras

    from keraslab.optimizers import SumDuplicateRows

    return {
        "Adam": lambda: keras.optimizers.Adam(1e-3),
        "SumDuplicateRows(Adam)": lambda: SumDuplicateRows(keras.optimizers.Adam(1e-3)),
    }


def step_times(repeats: int, steps: int, warmup: int) -> dict[str, list[float]]:
    x, y = batch(BATCH)
    models = {name: compiled_classifier(make()) for name, make in candidates().items()}
    calls = {name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()}
    return interleaved_times(calls, repeats, warmup, steps)


def update_times(repeats: int, updates: int, warmup: int) -> tuple[dict, int, int]:
    """Seconds per update with one real batch's gradients; also the embedding gradient's
    slices and distinct rows."""
    import keras
    import tensorflow as tf

    model = compiled_classifier(keras.optimizers.Adam(1e-3))
    x, y = batch(BATCH)
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x, y, model(x, training=True))
    grads = tape.gradient(loss, variables)
    table = next(g for g in grads if isinstance(g, tf.IndexedSlices))
    slices, rows = int(tf.shape(table.indices)[0]), int(tf.size(tf.unique(table.indices)[0]))
    functions = {}
    for name, make in candidates().items():
        optimizer = make()
        optimizer.build(variables)
        functions[name] = tf.function(lambda o=optimizer: o.apply(grads, variables))
    return interleaved_times(functions, repeats, warmup, updates), slices, rows


def table(times: dict[str, list[float]], unit: str) -> str:
    base = times["Adam"]
    rows = [
        f"| optimizer | median ms/{unit} | range ms | ratio to Adam (median of rounds) |",
        "| --- | --- | --- | --- |",
    ]
    for name, values in times.items():
        ratio = statistics.median(t / b for t, b in zip(values, base, strict=True))
        rows.append(
            f"| {name} | {1000 * statistics.median(values):.2f} "
            f"| {1000 * min(values):.2f}–{1000 * max(values):.2f} | {ratio:.3f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed turn")
    parser.add_argument("--updates", type=int, default=20, help="updates per timed turn")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    import keras

    sections = [
        "# Summing duplicate embedding rows: the cost",
        f"Machine: {describe()}. Command: `{' '.join(['python', *sys.argv])}`.",
        f"## Whole training step (classifier, batch {BATCH} x {MAXLEN}; {args.repeats} "
        f"interleaved rounds of {args.steps} steps after {args.warmup} warm-up steps)",
        table(step_times(args.repeats, args.steps, args.warmup), "step"),
    ]
    if keras.backend.backend() == "tensorflow":
        updates, slices, rows = update_times(args.repeats, args.updates, args.warmup)
        sections += [
            f"## The update alone (`tf.function` of `optimizer.apply`, one batch's gradients: "
            f"the word table's {slices} slices over {rows} distinct rows; {args.repeats} "
            f"interleaved rounds of {args.updates} updates)",
            table(updates, "update"),
        ]
    report = "\n\n".join(sections)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "summed_rows.md"
    path.write_text(report + "\n")
    print(report)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
