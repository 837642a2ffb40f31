"""Where a BERT training step's time goes: its matrix products, dropout, GELU and Adam.

The training step of ``bert_step.py`` (MiniLM-L6 config, batch 32 x 128, dropout 0.1, Adam)
runs, per block, six dense products of the tokens, (T, in) @ (in, out) with T = batch x length
(query, key, value, attention output: 384 -> 384; intermediate 384 -> 1536; output 1536 -> 384),
and two batched attention products per head, ``Q K^T`` and ``P V``. Backpropagation adds two
products for each: ``dX = dY W^T`` and ``dW = X^T dY`` (and their batched counterparts). This
script times those 144 products alone, with the step's shapes, on TensorFlow's oneDNN kernels
and on torch, in the same process as the two full training steps (ours on TensorFlow and
transformers/torch with fused Adam), A/B interleaved. Their FLOPs are
``6 x 3 x 2T(4 h^2 + 2 h i) + 6 x 3 x 4 B L^2 h`` (h hidden, i intermediate).

No implementation that computes every position through every block in float32 runs a step
in less than its products' time. What the rest of our step costs is measured by taking one
part out at a time: dropout (rate 0, and the attention weights' dropout alone), the exact
GELU (relu instead) and Adam (plain SGD instead). Each such model
computes something else; the differences only apportion the time.

    python benchmarks/bert_step_anatomy.py --repeats 7
"""

import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bert_step import CONFIG, batch, cls_head, keras_steps, step_arguments, torch_steps
from machine import cpu_kind, describe, interleaved_times

RESULTS = Path(__file__).parent / "results"


def product_shapes(size: int, length: int) -> tuple[list[tuple], list[tuple]]:
    """The step's 2-D products ``(m, k, n)`` and batched products ``(batch, m, k, n)``, forward
    and backward, over all blocks."""
    tokens, hidden, inner = size * length, CONFIG["hidden_size"], CONFIG["intermediate_size"]
    heads = CONFIG["num_heads"]
    head_size = hidden // heads
    dense = [(hidden, hidden)] * 4 + [(hidden, inner), (inner, hidden)]
    flat, batched = [], []
    for _ in range(CONFIG["num_layers"]):
        for fan_in, fan_out in dense:
            flat += [
                (tokens, fan_in, fan_out),
                (tokens, fan_out, fan_in),
                (fan_in, tokens, fan_out),
            ]
        pairs = size * heads
        # Q K^T, its two gradients; P V, its two gradients
        batched += [(pairs, length, head_size, length)] * 3 + [
            (pairs, length, length, head_size)
        ] * 3
    return flat, batched


def flops(flat: list[tuple], batched: list[tuple]) -> float:
    """``2 m k n`` a product (a multiply and an add per term), ``b`` times for batched ones."""
    return 2.0 * (sum(m * k * n for m, k, n in flat) + sum(b * m * k * n for b, m, k, n in batched))


def tensorflow_products(flat, batched):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    operands = [
        (
            tf.constant(rng.standard_normal((m, k), "float32")),
            tf.constant(rng.standard_normal((k, n), "float32")),
        )
        for m, k, n in flat
    ] + [
        (
            tf.constant(rng.standard_normal((b, m, k), "float32")),
            tf.constant(rng.standard_normal((b, k, n), "float32")),
        )
        for b, m, k, n in batched
    ]

    @tf.function
    def products():
        return [tf.matmul(a, b) for a, b in operands]

    return products


def torch_products(flat, batched):
    import torch

    torch.set_num_threads(2)
    generator = torch.Generator().manual_seed(0)
    operands = [
        (torch.randn(m, k, generator=generator), torch.randn(k, n, generator=generator))
        for m, k, n in flat
    ] + [
        (torch.randn(b, m, k, generator=generator), torch.randn(b, k, n, generator=generator))
        for b, m, k, n in batched
    ]

    def products():
        with torch.no_grad():
            return [torch.matmul(a, b) for a, b in operands]

    return products


def our_step(data, dropout=0.1, attention_dropout=None, activation="gelu", optimizer="adam"):
    from keraslab.models import BertBackbone

    backbone = BertBackbone(
        **CONFIG, dropout=dropout, attention_dropout=attention_dropout, activation=activation
    )
    return keras_steps(cls_head(backbone), data, jit_compile=False, optimizer=optimizer)[0]


def main() -> None:
    args = step_arguments(__doc__.splitlines()[0]).parse_args()

    import keras

    if keras.backend.backend() != "tensorflow":
        sys.exit(
            "bert_step_anatomy.py times TensorFlow's kernels: run it with KERAS_BACKEND=tensorflow"
        )
    data = batch(args.batch, args.length)
    flat, batched = product_shapes(args.batch, args.length)
    torch_step = "transformers/torch training step, fused Adam"
    ours = "keraslab training step on tensorflow"
    candidates = {
        torch_step: torch_steps(data, dropout=0.1, optimizer="adam", fused=True)[0],
        ours: our_step(data),
        "ours without dropout": our_step(data, dropout=0.0),
        "ours without the attention weights' dropout": our_step(data, attention_dropout=0.0),
        "ours with relu for the exact GELU": our_step(data, activation="relu"),
        "ours with SGD for Adam": our_step(data, optimizer="sgd"),
        "the step's products alone, torch": torch_products(flat, batched),
        "the step's products alone, tensorflow (oneDNN)": tensorflow_products(flat, batched),
    }
    times = interleaved_times(candidates, args.repeats, args.warmup)
    base = statistics.median(times[torch_step])
    total = flops(flat, batched)
    rows = [
        "| what | median s | range s | ratio to torch's step | vs our step, s | GFLOP/s of the products |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    step = statistics.median(times[ours])
    for name, values in times.items():
        median = statistics.median(values)
        rows.append(
            f"| {name} | {median:.3f} | {min(values):.3f}–{max(values):.3f} | "
            f"{median / base:.2f} | {median - step:+.3f} | {total / median / 1e9:.0f} |"
        )
    rows.append(
        f"| the target, 0.9 × torch's step | {0.9 * base:.3f} | | 0.90 | {0.9 * base - step:+.3f} | |"
    )
    report = "\n".join(
        [
            "# Where a BERT training step's time goes",
            "",
            f"Machine: {describe()}; torch threads 2. Batch {args.batch} x {args.length}, MiniLM-L6 "
            f"config, dropout 0.1, Adam; {len(flat) + len(batched)} products, "
            f"{total / 1e9:.0f} GFLOP a step. {args.repeats} interleaved rounds after "
            f"{args.warmup} warm-up calls each; the models without dropout, GELU or Adam compute "
            f"something else and only apportion our step's time. Command: `{' '.join(['python', *sys.argv])}`.",
            "",
            *rows,
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bert_step_anatomy_{cpu_kind()}.md"
    path.write_text(report + "\n")
    print(report)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
