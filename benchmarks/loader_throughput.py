"""Loader throughput: CPU-bound batches feeding the sentiment classifier through each loader.

Each batch is built from raw text: its lines of ``data/sentiment/sentiment.train.data`` are
tokenized into BERT inputs by ``WordPieceTokenizer`` over a character vocab, ``passes`` times
over (the extra passes stand for heavier per-batch work, such as augmentation). ``passes`` is
calibrated so that building a batch takes ``--data-to-step`` times a training step (one table
per value): at 1 the data costs as much as the model, at 4 data is clearly the bottleneck. The
model is the classification task's with ``conf/model/encoder/tiny.yaml``'s encoder, compiled as
the task compiles it.

For each loader (inline, threads, processes; 2 workers, queue 10), ``model.fit`` reads
``keras_input`` for ``--warmup`` + ``--steps`` steps; over the last ``--steps`` it measures
samples/s, and the seconds spent in ``fetcher.get`` for those steps' batches as a share of the
time (waiting on data). The warm-up also hides the start of worker processes. Loaders take
turns for ``--repeats`` rounds; medians and ranges are reported.

What to expect on 2 cores, with ``--tf-threads`` (default 1) for the model and the other core
for batch building. Inline builds each batch when the model asks for it (``keras_input`` turns
off tf.data's own prefetching), so a batch takes step + data seconds. Threads overlap the two
only as far as the GIL lets them. Processes need step + data seconds of CPU a batch over two
cores, so at best max(step, (step + data) / 2) a batch: 2x inline at data = step, and no
waiting while data <= step.

    python benchmarks/loader_throughput.py              # writes benchmarks/results/loader_throughput.md
    python benchmarks/loader_throughput.py --quick      # a few steps: checks the pipeline; writes
                                                        # outputs/benchmarks/, not results/
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import keraslab  # noqa: F401  (its TensorFlow defaults, set before anything imports keras)

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


class TokenizeTexts:
    """A batch transform: the batch's rows -> BERT inputs of their texts, tokenized ``passes``
    times. Picklable (texts, vocab and options); the tokenizer is built once per process."""

    def __init__(self, texts: list[str], vocab: list[str], maxlen: int, passes: int):
        self.texts, self.vocab, self.maxlen, self.passes = texts, vocab, maxlen, passes
        self._tokenizer = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_tokenizer": None}

    def __call__(self, inputs: dict, labels: np.ndarray, rng) -> tuple:
        if self._tokenizer is None:
            from keraslab.tokenizers import WordPieceTokenizer

            self._tokenizer = WordPieceTokenizer(self.vocab, lowercase=False)
        texts = [self.texts[row] for row in inputs["row"]]
        for _ in range(self.passes - 1):
            self._tokenizer.encode_batch(texts, maxlen=self.maxlen)
        return self._tokenizer.encode_batch(texts, maxlen=self.maxlen), labels


class TimedLoader:
    """Wraps a loader; ``blocked[position]`` adds up the seconds ``get(position)`` took."""

    def __init__(self, loader):
        self.loader = loader
        self.blocked: dict[int, float] = {}

    def open(self, produce, limit=None):
        return _TimedFetcher(self.loader.open(produce, limit), self)


class _TimedFetcher:
    def __init__(self, fetcher, owner: TimedLoader):
        self.fetcher, self.owner = fetcher, owner

    def get(self, position: int) -> tuple:
        started = time.perf_counter()
        try:
            return self.fetcher.get(position)
        finally:
            seconds = time.perf_counter() - started
            self.owner.blocked[position] = self.owner.blocked.get(position, 0.0) + seconds

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fetcher.close()


def sentiment_splits(maxlen: int, limit: int | None):
    """The training split twice: as row numbers with a ``TokenizeTexts`` transform (one pass
    until calibrated), and already tokenized (to time the model alone); and the vocab."""
    from keraslab.data import EncodedSplit
    from keraslab.data.labelled_text import read_labelled_text
    from keraslab.tokenizers import char_vocab

    texts, labels = read_labelled_text(ROOT / "data/sentiment/sentiment.train.data", (0, 1))
    texts, labels = texts[:limit], np.asarray(labels[:limit], np.int32)
    vocab = char_vocab(texts, min_count=2)
    transform = TokenizeTexts(texts, vocab, maxlen, passes=1)
    rows = {"row": np.arange(len(texts))}
    tokenized = transform(rows, labels, None)
    return EncodedSplit(rows, labels, transform=transform), EncodedSplit(*tokenized), vocab


def classifier(vocab_size: int, maxlen: int):
    """The classification task's model with the tiny encoder, compiled with Adam as the task
    compiles it."""
    import keras
    from omegaconf import OmegaConf

    from keraslab.tasks import ClassificationTask

    tiny = OmegaConf.load(ROOT / "conf/model/encoder/tiny.yaml")
    task = ClassificationTask(OmegaConf.merge(tiny, {"max_positions": maxlen}))
    model = task.build(vocab_size, 2)
    task.compile(model, keras.optimizers.Adam(1e-3))
    return model


def calibrate(model, batches, tokenized, warmup: int, steps: int) -> tuple[float, float]:
    """Seconds of a training step inside ``fit`` on already tokenized batches, and seconds of
    one tokenization pass over a batch: the median over 5 batches of 10 passes each, / 10.
    (Timing batches of one pass overstated a pass twice over: "data = 1 x step" then measured
    0.55 x in inline's own waiting share; each table now also shows that measured ratio.)"""
    from keraslab.loaders import InlineLoader

    rate, _ = measure(model, tokenized, InlineLoader(), warmup, steps)
    transform, seconds = batches.split.transform, []
    transform.passes = 10
    for index in range(5):
        started = time.perf_counter()
        batches.batch(0, index)
        seconds.append(time.perf_counter() - started)
    return tokenized.batch_size / rate, statistics.median(seconds) / transform.passes


def measure(model, batches, loader, warmup: int, steps: int) -> tuple[float, float]:
    """Samples/s over steps ``warmup .. warmup + steps - 1`` of one ``fit`` through
    ``keras_input``, and the seconds spent in ``fetcher.get`` for those steps' batches as a share
    of that time."""
    import keras

    from keraslab.loaders.keras_input import keras_input

    timed = TimedLoader(loader)
    marks = {}

    class Marks(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            marks[batch] = time.perf_counter()

    with keras_input(batches, timed, endless=True) as data:
        model.fit(data, epochs=1, steps_per_epoch=warmup + steps, callbacks=[Marks()], verbose=0)
    seconds = marks[warmup + steps - 1] - marks[warmup - 1]
    blocked = sum(timed.blocked[position] for position in range(warmup, warmup + steps))
    return steps * batches.batch_size / seconds, blocked / seconds


def table(results: dict[str, list[tuple[float, float]]]) -> str:
    inline = statistics.median(rate for rate, _ in results["inline"])
    rows = [
        "| loader | samples/s (median) | range | waiting on data (median) | range | vs inline |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs in results.items():
        rates, waits = [rate for rate, _ in runs], [wait for _, wait in runs]
        rate = statistics.median(rates)
        rows.append(
            f"| {name} | {rate:.1f} | {min(rates):.1f}–{max(rates):.1f} | "
            f"{statistics.median(waits):.1%} | {min(waits):.1%}–{max(waits):.1%} | "
            f"{rate / inline:.2f}× |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--maxlen", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=10, help="steps before measuring")
    parser.add_argument("--steps", type=int, default=40, help="steps measured per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--data-to-step", type=float, nargs="+", default=[1.0, 2.0, 4.0], help="one table each"
    )
    parser.add_argument("--tf-threads", type=int, default=1, help="0: TensorFlow's default")
    parser.add_argument("--quick", action="store_true", help="a few small steps, one round")
    args = parser.parse_args()
    limit = None
    if args.quick:
        args.batch, args.maxlen, args.warmup, args.steps, args.repeats = 16, 64, 4, 4, 1
        limit = 2000

    import keras

    if keras.backend.backend() == "tensorflow" and args.tf_threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.tf_threads)
    from keraslab.loaders import InlineLoader, ProcessLoader, SplitBatches, ThreadLoader

    keras.utils.set_random_seed(0)
    split, tokenized, vocab = sentiment_splits(args.maxlen, limit)
    batches = SplitBatches(split, args.batch, shuffle=True, seed=0)
    model = classifier(len(vocab), args.maxlen)
    tokenized_batches = SplitBatches(tokenized, args.batch, shuffle=True, seed=0)
    step, one_pass = calibrate(model, batches, tokenized_batches, args.warmup, args.steps)
    loaders = {
        "inline": InlineLoader(),
        "threads": ThreadLoader(args.workers, 10),
        "processes": ProcessLoader(args.workers, 10),
    }
    sections = [
        "# Loader throughput: CPU-bound batches into the tiny classifier",
        f"Machine: {describe()}; TensorFlow threads: {args.tf_threads or 'default'}. "
        f"Command: `{' '.join(['python', *sys.argv])}`.",
        f"Batch {args.batch} x {args.maxlen}. A training step in `fit` takes "
        f"{step * 1000:.0f} ms (inline, on tokenized batches); one tokenization pass over a "
        f"batch takes {one_pass * 1000:.1f} ms. {args.workers} workers, queue 10; "
        f"{args.steps} steps measured after {args.warmup} warm-up steps; {args.repeats} "
        "interleaved rounds. *Waiting on data*: seconds spent in `fetcher.get` for the measured "
        "steps' batches over the wall time. Inline builds each batch when the model asks for "
        "it (tf.data's own prefetching is off), so its share is the time spent building "
        "batches; with workers, `get` only waits for a batch not yet built.",
    ]
    for ratio in args.data_to_step:
        split.transform.passes = max(1, round(ratio * step / one_pass))
        results = {name: [] for name in loaders}
        for _ in range(args.repeats):
            for name, loader in loaders.items():
                results[name].append(measure(model, batches, loader, args.warmup, args.steps))
        inline_wait = statistics.median(wait for _, wait in results["inline"])
        sections += [
            f"## Data = {ratio:g} x step: each batch tokenized {split.transform.passes} times",
            f"Measured by inline's waiting share w, data / step = w / (1 - w) = "
            f"{inline_wait / (1 - inline_wait):.2f}.",
            table(results),
        ]
    report = "\n\n".join(sections)
    folder = ROOT / "outputs/benchmarks" if args.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "loader_throughput.md"
    path.write_text(report + "\n", encoding="utf-8")
    print(report)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
