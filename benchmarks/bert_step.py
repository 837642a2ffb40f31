"""Training step and inference of the BERT encoder against transformers (torch) and keras-hub.

Same process, same inputs (MiniLM-L6 config: 6 x 384, 12 heads, vocab 30522; batch 32 x 128),
same objective (a 2-way Dense head on [CLS], cross-entropy, Adam). Ours runs twice: the backbone
with that head on its ``sequence_output`` (every position through every block, as the peers),
and ``BertClassifier(cls_only_last_block=True)``, whose last block runs at [CLS] alone (the same
logits and gradients; head dropout 0, as the peers' heads). The implementations take turns
(A/B interleaved) for ``--repeats`` rounds after warm-up; medians and ranges are reported, with
ratios against the fastest torch configuration. Results go to ``benchmarks/results/``.

The keras-hub peer needs ``.venv/bin/pip install --no-deps keras-hub==0.32.0`` (it is skipped,
with a message, when missing).

    python benchmarks/bert_step.py --jit                    # TensorFlow backend, also with XLA
    python benchmarks/bert_step.py --tf-onednn off          # TensorFlow's stock CPU kernels
    python benchmarks/bert_step.py --tf-inter-op 1          # one op at a time (thread setting)
    python benchmarks/bert_step.py --precision mixed_bfloat16  # against torch's bf16 autocast
    python benchmarks/bert_step.py --dropout 0              # the step without dropout's masks
    python benchmarks/bert_step.py --optimizer sgd          # the step with the cheapest update
    KERAS_BACKEND=jax python benchmarks/bert_step.py        # JAX backend: results/bert_step_jax_*.md

TensorFlow settings (oneDNN kernels, which keraslab turns on by default, and the inter-op thread
pool) apply to the whole process, so keras-hub runs under the same ones; each setting writes
its own results file, named by backend and CPU kind (``bert_step_tensorflow_intel_xeon.md``):
the ratios differ between AMD EPYC and Intel Xeon (AMX) machines, and both are kept.
"""

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from machine import cpu_kind, describe, interleaved_times

CONFIG = dict(
    vocab_size=30522,
    num_layers=6,
    hidden_size=384,
    num_heads=12,
    intermediate_size=1536,
    max_positions=512,
)
RESULTS = Path(__file__).parent / "results"
# the update's class, by the same name in keras.optimizers and torch.optim
UPDATES = {"adam": "Adam", "sgd": "SGD"}


def batch(size: int, length: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(length // 2, length + 1, size)
    mask = (np.arange(length)[None] < lengths[:, None]).astype("int32")
    return {
        "token_ids": (rng.integers(1000, 30000, (size, length)) * mask).astype("int32"),
        "segment_ids": np.zeros((size, length), "int32"),
        "padding_mask": mask,
        "labels": rng.integers(0, 2, size).astype("int32"),
    }


def cls_head(backbone):
    """A 2-way Dense head on the [CLS] position of ``backbone``'s sequence output."""
    import keras

    output = backbone.output
    sequence = output["sequence_output"] if isinstance(output, dict) else output
    return keras.Model(backbone.input, keras.layers.Dense(2)(sequence[:, 0]))


def keras_steps(model, data, jit_compile, optimizer) -> tuple[Callable, Callable]:
    import keras

    inputs = {k: data[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    model.compile(
        optimizer=getattr(keras.optimizers, UPDATES[optimizer])(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return (lambda: model.train_on_batch(inputs, data["labels"])), (
        lambda: model.predict_on_batch(inputs)
    )


def ours(data, dropout, optimizer, jit_compile=False):
    from keraslab.models import BertBackbone

    backbone = BertBackbone(**CONFIG, dropout=dropout)
    return keras_steps(cls_head(backbone), data, jit_compile, optimizer)


def our_classifier(data, dropout, optimizer):
    from keraslab.models import BertBackbone, BertClassifier

    backbone = BertBackbone(**CONFIG, dropout=dropout)
    classifier = BertClassifier(backbone, 2, head_dropout=0.0, cls_only_last_block=True)
    return keras_steps(classifier, data, jit_compile=False, optimizer=optimizer)


def keras_hub(data, dropout, optimizer):
    from keras_hub.models import BertBackbone

    backbone = BertBackbone(
        vocabulary_size=CONFIG["vocab_size"],
        num_layers=CONFIG["num_layers"],
        num_heads=CONFIG["num_heads"],
        hidden_dim=CONFIG["hidden_size"],
        intermediate_dim=CONFIG["intermediate_size"],
        max_sequence_length=CONFIG["max_positions"],
        dropout=dropout,
    )
    return keras_steps(cls_head(backbone), data, jit_compile=False, optimizer=optimizer)


def torch_steps(data, dropout, optimizer, fused=False, precision="float32"):
    import contextlib
    import functools

    import torch
    import transformers

    torch.set_num_threads(2)
    config = transformers.BertConfig(
        vocab_size=CONFIG["vocab_size"],
        hidden_size=CONFIG["hidden_size"],
        num_hidden_layers=CONFIG["num_layers"],
        num_attention_heads=CONFIG["num_heads"],
        intermediate_size=CONFIG["intermediate_size"],
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    encoder, head = transformers.BertModel(config, add_pooling_layer=False), torch.nn.Linear(384, 2)
    parameters = [*encoder.parameters(), *head.parameters()]
    optimizer = getattr(torch.optim, UPDATES[optimizer])(parameters, lr=1e-4, fused=fused or None)
    tensors = {
        "input_ids": torch.tensor(data["token_ids"], dtype=torch.long),
        "token_type_ids": torch.tensor(data["segment_ids"], dtype=torch.long),
        "attention_mask": torch.tensor(data["padding_mask"], dtype=torch.long),
    }
    labels = torch.tensor(data["labels"], dtype=torch.long)
    # mixed_bfloat16's counterpart in torch: bf16 autocast of the forward pass
    autocast = (
        functools.partial(torch.autocast, "cpu", dtype=torch.bfloat16)
        if precision == "mixed_bfloat16"
        else contextlib.nullcontext
    )

    def train():
        encoder.train()
        optimizer.zero_grad()
        with autocast():
            logits = head(encoder(**tensors).last_hidden_state[:, 0])
        torch.nn.functional.cross_entropy(logits.float(), labels).backward()
        optimizer.step()

    def infer():
        encoder.eval()
        with torch.no_grad(), autocast():
            encoder(**tensors)

    return train, infer


def table(title: str, times: dict[str, list[float]], reference: str) -> str:
    base = statistics.median(times[reference])
    rows = [
        f"### {title}",
        "",
        "| implementation | median s | range s | ratio to " + reference + " |",
        "| --- | --- | --- | --- |",
    ]
    for name, values in times.items():
        median = statistics.median(values)
        rows.append(
            f"| {name} | {median:.3f} | {min(values):.3f}–{max(values):.3f} | {median / base:.2f} |"
        )
    return "\n".join(rows)


def step_arguments(description: str) -> argparse.ArgumentParser:
    """The options every BERT step benchmark takes: batch shape, rounds and warm-up calls."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    return parser


def main() -> None:
    parser = step_arguments(__doc__.splitlines()[0])
    parser.add_argument(
        "--jit", action="store_true", help="also time ours with jit_compile=True (XLA)"
    )
    parser.add_argument(
        "--tf-onednn",
        choices=("on", "off"),
        default="on",
        help="TF_ENABLE_ONEDNN_OPTS (keraslab's default: on)",
    )
    parser.add_argument(
        "--tf-inter-op",
        type=int,
        default=0,
        help="TensorFlow inter-op threads (0: TensorFlow's default, one per core)",
    )
    parser.add_argument(
        "--precision",
        choices=("float32", "mixed_bfloat16"),
        default="float32",
        help="Keras dtype policy; torch runs under bf16 autocast with mixed_bfloat16",
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.1,
        help="dropout rate of the hidden states and of the attention weights (BERT's: 0.1)",
    )
    parser.add_argument(
        "--optimizer",
        choices=tuple(UPDATES),
        default="adam",
        help="the update every implementation takes (sgd: plain, no momentum)",
    )
    args = parser.parse_args()
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if args.tf_onednn == "on" else "0"

    import keras

    keras.config.set_dtype_policy(args.precision)

    data = batch(args.batch, args.length)
    backend = keras.backend.backend()
    settings = ""
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_inter_op_parallelism_threads(args.tf_inter_op)
        settings = f"; TensorFlow oneDNN {args.tf_onednn}, inter-op threads {args.tf_inter_op or 'default'}"
    settings += f"; precision {args.precision}; dropout {args.dropout}; optimizer {args.optimizer}"
    model = dict(dropout=args.dropout, optimizer=args.optimizer)
    fused = f"transformers/torch fused {UPDATES[args.optimizer]}"
    implementations = {
        "transformers/torch": torch_steps(data, **model, precision=args.precision),
        fused: torch_steps(data, **model, fused=True, precision=args.precision),
    }
    implementations[f"keraslab on {backend}"] = ours(data, **model)
    implementations[f"keraslab BertClassifier on {backend}"] = our_classifier(data, **model)
    if args.jit:
        implementations[f"keraslab on {backend}, jit_compile"] = ours(
            data, **model, jit_compile=True
        )
    try:
        implementations[f"keras-hub BertBackbone on {backend}"] = keras_hub(data, **model)
    except ImportError as error:
        print(f"keras-hub skipped: {error}", file=sys.stderr)

    train = interleaved_times(
        {n: steps[0] for n, steps in implementations.items()}, args.repeats, args.warmup
    )
    infer = interleaved_times(
        {n: steps[1] for n, steps in implementations.items()}, args.repeats, args.warmup
    )
    fastest_torch = min(
        ("transformers/torch", fused),
        key=lambda n: statistics.median(train[n]),
    )
    report = "\n\n".join(
        [
            f"## Keras backend: {backend}",
            f"Machine: {describe()}; torch threads 2{settings}. Batch {args.batch} x {args.length}, MiniLM-L6 config, "
            f"{args.repeats} interleaved rounds after {args.warmup} warm-up steps each. "
            f"Command: `{' '.join(['python', *sys.argv])}`.",
            table("Training step", train, fastest_torch),
            table("Inference", infer, "transformers/torch"),
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    suffix = ""
    if backend == "tensorflow":
        suffix += "" if args.tf_onednn == "on" else "_onednn_off"
        suffix += f"_inter_op_{args.tf_inter_op}" if args.tf_inter_op else ""
    suffix += "" if args.precision == "float32" else f"_{args.precision}"
    default = parser.get_default
    suffix += "" if args.dropout == default("dropout") else f"_dropout_{args.dropout:g}"
    suffix += "" if args.optimizer == default("optimizer") else f"_{args.optimizer}"
    path = RESULTS / f"bert_step_{backend}_{cpu_kind()}{suffix}.md"
    path.write_text("# BERT encoder: training step and inference\n\n" + report + "\n")
    print(report)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
