"""Optimizer wrappers on the sentiment classifier: step time against bare Adam and Keras's
built-in EMA and accumulation, and the peak memory of accumulation against a big batch.

Step time: every candidate is the default classifier (2 x 128 encoder, batch 64 x 128, a
5,000-token vocab) compiled as its task compiles it, with the same initial weights; they
take turns (A/B interleaved) for ``--repeats`` rounds of ``--steps`` training steps after
warm-up; each round's time is divided by bare Adam's in the same round, and the median of
those ratios is reported. A step is one micro-batch, so an
accumulating optimizer's time includes its non-update steps.

Update alone (TensorFlow): the same candidates' ``optimizer.apply`` in a ``tf.function`` on the
classifier's variables with fixed gradients, interleaved the same way. This is where the
optimizers differ; the step-time rounds spread by several per cent, more than the wrappers cost.

Memory: each setting runs in its own process; its peak resident memory is compared with batch
b's, and so is the training working set: the peak minus the resident memory once the model is
built (which leaves out what every setting holds: the interpreter, TensorFlow, the weights).

    python benchmarks/optimizer_wrappers.py            # writes benchmarks/results/optimizer_wrappers.md
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

import keraslab  # noqa: F401  (its TensorFlow defaults, set before anything imports keras)

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe, interleaved_times

RESULTS = Path(__file__).parent / "results"
VOCAB, MAXLEN, BATCH = 5000, 128, 64
ENCODER = dict(
    num_layers=2, hidden_size=128, num_heads=4, intermediate_size=256, max_positions=MAXLEN
)


def candidates() -> dict:
    import keras

    from keraslab.optimizers import (
        ExponentialMovingAverage,
        GradientAccumulation,
        LayerAdaptation,
        LazyUpdates,
        Lookahead,
        WeightDecay,
    )

    def adam(**options):
        return keras.optimizers.Adam(1e-3, **options)

    return {
        "Adam": adam,
        "WeightDecay(Adam)": lambda: WeightDecay(adam(), 0.01),
        "LayerAdaptation(Adam)": lambda: LayerAdaptation(adam()),
        "LazyUpdates(Adam)": lambda: LazyUpdates(adam(), ["word_embeddings"]),
        "Lookahead(Adam)": lambda: Lookahead(adam(), 5),
        "EMA(Adam)": lambda: ExponentialMovingAverage(adam(), 0.999),
        "Accumulation(Adam, 4)": lambda: GradientAccumulation(adam(), 4),
        "EMA(Lookahead(Accumulation(Adam, 4)))": lambda: ExponentialMovingAverage(
            Lookahead(GradientAccumulation(adam(), 4), 5), 0.999
        ),
        "Keras Adam(use_ema)": lambda: adam(use_ema=True, ema_momentum=0.999),
        "Keras Adam(gradient_accumulation_steps=4)": lambda: adam(gradient_accumulation_steps=4),
    }


def batch(size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(MAXLEN // 4, MAXLEN + 1, size)
    mask = (np.arange(MAXLEN)[None] < lengths[:, None]).astype("int32")
    inputs = {
        "token_ids": (rng.integers(5, VOCAB, (size, MAXLEN)) * mask).astype("int32"),
        "segment_ids": np.zeros((size, MAXLEN), "int32"),
        "padding_mask": mask,
    }
    return inputs, rng.integers(0, 2, size).astype("int32")


def compiled_classifier(optimizer):
    import keras

    from keraslab.tasks import ClassificationTask

    keras.utils.set_random_seed(0)
    task = ClassificationTask(ENCODER)
    model = task.build(VOCAB, 2)
    task.compile(model, optimizer)
    return model


def step_times(repeats: int, steps: int, warmup: int) -> dict[str, list[float]]:
    x, y = batch(BATCH)
    models = {name: compiled_classifier(make()) for name, make in candidates().items()}
    steps_of = {
        name: (lambda model=model: model.train_on_batch(x, y)) for name, model in models.items()
    }
    return interleaved_times(steps_of, repeats, warmup, steps)


def update_times(repeats: int, updates: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per ``optimizer.apply`` alone, traced once by ``tf.function``, on the
    classifier's trainable variables with fixed gradients (TensorFlow only). Without the
    forward and backward passes, which are the same for every candidate, the optimizers'
    own cost is not drowned in the step's round-to-round spread."""
    import keras
    import tensorflow as tf

    variables = compiled_classifier(keras.optimizers.Adam()).trainable_variables
    rng = np.random.default_rng(0)
    grads = [tf.constant(rng.normal(0, 1e-3, v.shape).astype("float32")) for v in variables]
    functions = {}
    for name, make in candidates().items():
        optimizer = make()
        optimizer.build(variables)
        functions[name] = tf.function(lambda optimizer=optimizer: optimizer.apply(grads, variables))
    return interleaved_times(functions, repeats, warmup, updates)


def peak_memory(batch_size: int, accum_steps: int, steps: int) -> dict[str, float]:
    """Run in a child process: resident memory (MiB) once built, and its peak while training."""
    command = [sys.executable, __file__, "--memory-child", f"{batch_size},{accum_steps},{steps}"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
    return json.loads(result.stdout.strip().splitlines()[-1])


def memory_child(spec: str) -> None:
    import keras

    from keraslab.optimizers import GradientAccumulation

    batch_size, accum_steps, steps = map(int, spec.split(","))
    optimizer = keras.optimizers.Adam(1e-3)
    if accum_steps > 1:
        optimizer = GradientAccumulation(optimizer, accum_steps)
    model = compiled_classifier(optimizer)
    x, y = batch(batch_size)
    model.predict_on_batch(x)
    built = status_mib("VmRSS")
    for _ in range(steps):
        model.train_on_batch(x, y)
    print(json.dumps({"built": built, "peak": status_mib("VmHWM")}))


def status_mib(field: str) -> float:
    """A memory field of /proc/self/status in MiB: VmRSS (resident now) or VmHWM (its peak in
    this process image; unlike getrusage's maxrss it does not carry over from the parent)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def time_table(
    times: dict[str, list[float]], unit: str = "step", adam_step: float | None = None
) -> str:
    """Median ms per ``unit``, and the ratio to Adam as the median of per-round ratios: each
    round compares turns taken seconds apart, which cancels most of the machine's drift.

    With ``adam_step`` (seconds of a whole training step with Adam), ``unit`` is an update
    alone, and a last column gives the step-time overhead it implies, ``(t - t_Adam) /
    adam_step``: every candidate's forward and backward passes are the same."""
    base = times["Adam"]

    def ratios(name: str) -> list[float]:
        return [t / b for t, b in zip(times[name], base, strict=True)]

    overhead = adam_step is not None
    rows = [
        f"| optimizer | median ms/{unit} | range ms | ratio to Adam (median of rounds) | "
        "interquartile range of the ratio |"
        + (" step-time overhead over Adam |" if overhead else ""),
        "| --- | --- | --- | --- | --- |" + (" --- |" if overhead else ""),
    ]
    for name, values in times.items():
        q1, _, q3 = statistics.quantiles(ratios(name), n=4)
        extra = statistics.median(values) - statistics.median(base)
        rows.append(
            f"| {name} | {1000 * statistics.median(values):.2f} "
            f"| {1000 * min(values):.2f}–{1000 * max(values):.2f} "
            f"| {statistics.median(ratios(name)):.3f} | {q1:.3f}–{q3:.3f} |"
            + (f" {extra / adam_step:+.1%} |" if overhead else "")
        )
    ours_vs_keras = [
        ("EMA(Adam)", "Keras Adam(use_ema)"),
        ("Accumulation(Adam, 4)", "Keras Adam(gradient_accumulation_steps=4)"),
    ]
    rows += [
        "",
        "| ours | Keras built-in | ratio ours / Keras (median of rounds) |",
        "| --- | --- | --- |",
    ]
    for ours, theirs in ours_vs_keras:
        paired = [a / b for a, b in zip(times[ours], times[theirs], strict=True)]
        rows.append(f"| {ours} | {theirs} | {statistics.median(paired):.3f} |")
    return "\n".join(rows)


def memory_table(micro: int, accum: int, steps: int) -> str:
    settings = {
        f"batch {micro}": (micro, 1),
        f"batch {micro} x accumulation {accum}": (micro, accum),
        f"batch {micro * accum}": (micro * accum, 1),
    }
    measured = {name: peak_memory(size, n, steps) for name, (size, n) in settings.items()}
    working = {name: m["peak"] - m["built"] for name, m in measured.items()}
    base = measured[f"batch {micro}"]["peak"], working[f"batch {micro}"]
    rows = [
        "| setting | resident once built MiB | peak while training MiB "
        f"| peak ratio to batch {micro} | training working set MiB | working-set ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, m in measured.items():
        rows.append(
            f"| {name} | {m['built']:.0f} | {m['peak']:.0f} | {m['peak'] / base[0]:.2f} "
            f"| {working[name]:.0f} | {working[name] / base[1]:.2f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed turn")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--updates", type=int, default=40, help="updates per timed turn (a multiple of 4 and 5)"
    )
    parser.add_argument("--memory-micro-batch", type=int, default=16)
    parser.add_argument("--memory-accum", type=int, default=8)
    parser.add_argument("--memory-steps", type=int, default=16)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return

    import keras

    times = step_times(args.repeats, args.steps, args.warmup)
    sections = [
        "# Optimizer wrappers: step time and memory",
        f"Machine: {describe()}. Command: `{' '.join(['python', *sys.argv])}`.",
        f"## Step time (classifier, batch {BATCH} x {MAXLEN}; {args.repeats} interleaved "
        f"rounds of {args.steps} steps after {args.warmup} warm-up steps)",
        time_table(times),
    ]
    if keras.backend.backend() == "tensorflow":
        updates = update_times(args.repeats, args.updates, args.warmup)
        sections += [
            f"## The optimizer update alone (`tf.function` of `optimizer.apply` on the "
            f"classifier's variables, fixed gradients; {args.repeats} interleaved rounds of "
            f"{args.updates} updates after {args.warmup} warm-up updates)",
            "Step-time overhead: the update's extra time over Adam's, as a share of a whole "
            f"Adam training step ({1000 * statistics.median(times['Adam']):.0f} ms above).",
            time_table(updates, "update", statistics.median(times["Adam"])),
        ]
    sections += [
        f"## Peak memory ({args.memory_steps} training steps, each setting in its own process)",
        memory_table(args.memory_micro_batch, args.memory_accum, args.memory_steps),
    ]
    report = "\n\n".join(sections)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "optimizer_wrappers.md"
    path.write_text(report + "\n")
    print(report)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
