"""Decoding throughput of triple extraction: the batched decoder against bert4keras's loop.

Both decode the same valid sentences with the same trained model (the best checkpoint of an
``experiment=triples`` run): ``extract_triples`` calls the subject half once per batch of
sentences and the object half once for all the subjects of the batch; ``extract_triples_one_by_one``
calls the subject half once per sentence and the object half once per subject, as bert4keras's
``extract_spoes`` does. They take turns (A/B interleaved) for ``--repeats`` rounds, and must find
the same triples. The ratio is the median of the per-round ratios of sentences per second.

    python scripts/run.py experiment=triples              # a trained run to decode with
    python benchmarks/triple_decoding.py --run outputs/runs/<date>/<time>
"""

import argparse
import statistics
import sys
from pathlib import Path

import keraslab  # noqa: F401  (its TensorFlow defaults, set before anything imports keras)

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe, interleaved_times

RESULTS = Path(__file__).parent / "results"


def sentences_of(run_dir: Path, sentences: int):
    """The run's model and task, and the first ``sentences`` sentences of its valid file."""
    from keraslab.config_checks import instantiate_section
    from keraslab.evaluate_run import read_run
    from keraslab.training import Trainer
    from keraslab.triples.decoding import Sentences

    folder, cfg, checkpoint = read_run(str(run_dir))
    task = instantiate_section(cfg, "model")
    data = instantiate_section(cfg, "data").restore(folder)
    data.read_split(Path(cfg.data.data_dir) / cfg.data.files.valid, "valid")
    examples = data.gold("valid")[:sentences]
    batch = Sentences(
        {name: array[:sentences] for name, array in data.splits["valid"].inputs.items()},
        [sentence.text for sentence in examples],
        data.offsets["valid"][:sentences],
    )
    return Trainer.restore(checkpoint), task, data, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="an experiment=triples run folder")
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()

    from keraslab.triples.decoding import extract_triples, extract_triples_one_by_one

    model, task, data, sentences = sentences_of(args.run, args.sentences)
    decoders = {
        "one by one (bert4keras)": lambda: extract_triples_one_by_one(
            model, sentences, data.predicates, task.thresholds
        ),
        f"batched ({task.decode_batch_size} a call)": lambda: extract_triples(
            model, sentences, data.predicates, task.thresholds, task.decode_batch_size
        ),
    }
    found = {name: decode() for name, decode in decoders.items()}
    first, second = found.values()
    if first != second:
        raise SystemExit("the two decoders disagree: the benchmark compares nothing")
    times = interleaved_times(decoders, args.repeats, args.warmup)
    base = times["one by one (bert4keras)"]
    subjects = sum(len({s for s, _, _ in triples}) for triples in first)
    rows = [
        "| decoder | median sentences/s | range | speed-up over one by one (median of rounds) |",
        "| --- | --- | --- | --- |",
    ]
    for name, values in times.items():
        speedup = statistics.median(b / t for t, b in zip(values, base, strict=True))
        rates = [len(sentences) / t for t in values]
        rows.append(
            f"| {name} | {statistics.median(rates):.1f} | {min(rates):.1f}–{max(rates):.1f} "
            f"| {speedup:.2f}× |"
        )
    report = "\n\n".join(
        [
            "# Triple extraction: batched decoding against one subject at a time",
            f"Machine: {describe()}. Command: `{' '.join(['python', *sys.argv])}`.",
            f"{len(sentences)} valid sentences ({subjects} decoded subjects, "
            f"{sum(map(len, first))} triples, the same from both decoders), "
            f"{args.repeats} interleaved rounds after {args.warmup} warm-up.",
            "\n".join(rows),
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "triple_decoding.md"
    path.write_text(report + "\n")
    print(report)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
