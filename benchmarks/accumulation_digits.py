"""The gradient-accumulation post's experiment, on scikit-learn's bundled digits (8 x 8 images).

An MLP (64 -> 128 ReLU -> 10) trained with Adam (lr 1e-3) for the same number of epochs with
batch 1, batch 1 accumulated over 100 micro-batches (GradientAccumulation), and batch 100.
The post (MNIST): batch 1 reaches a loss of about 0.4 and under 97 % validation accuracy; with
100-step accumulation about 0.02 and over 98 %, like batch 100 (techniques.md §7).

    python benchmarks/accumulation_digits.py     # writes benchmarks/results/accumulation_digits.md
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import keraslab  # noqa: F401  (its TensorFlow defaults, set before anything imports keras)

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe

RESULTS = Path(__file__).parent / "results"
SETTINGS = {"batch 1": (1, 1), "batch 1 x accumulation 100": (1, 100), "batch 100": (100, 1)}


def digits(seed: int = 0):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = (x[order] / 16.0).astype("float32"), y[order].astype("int32")
    cut = int(0.8 * len(y))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def train(batch_size: int, accum_steps: int, epochs: int, data) -> dict[str, float]:
    import keras

    from keraslab.optimizers import GradientAccumulation

    (x, y), (x_test, y_test) = data
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(128, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10)(hidden))
    optimizer = keras.optimizers.Adam(1e-3)
    if accum_steps > 1:
        optimizer = GradientAccumulation(optimizer, accum_steps)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    full_train = model.evaluate(x, y, verbose=0, return_dict=True)
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    return {
        "last_epoch_loss": history.history["loss"][-1],
        "train_loss": full_train["loss"],
        "test_accuracy": test["accuracy"],
        "updates": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    data = digits()
    results = {name: train(b, n, args.epochs, data) for name, (b, n) in SETTINGS.items()}
    rows = [
        "| setting | updates | loss, last epoch (running mean) | loss on the training set "
        "| test accuracy | seconds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        rows.append(
            f"| {name} | {r['updates']} | {r['last_epoch_loss']:.4f} | {r['train_loss']:.4f} "
            f"| {100 * r['test_accuracy']:.1f} % | {r['seconds']:.0f} |"
        )
    (train_x, _), (test_x, _) = data
    report = "\n\n".join(
        [
            "# Gradient accumulation on digits (the accumulation post's experiment)",
            f"Machine: {describe()}. Command: `{' '.join(['python', *sys.argv])}`.",
            f"{len(train_x)} training and {len(test_x)} test images, {args.epochs} epochs, "
            "Adam 1e-3, MLP 64-128-10. Published on MNIST: batch 1 loss ~0.4 / val < 97 %; "
            "accumulation 100: loss ~0.02 / val > 98 %, like batch 100.",
            "\n".join(rows),
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "accumulation_digits.md"
    path.write_text(report + "\n")
    print(report)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
