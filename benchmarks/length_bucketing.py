"""The default experiment as it was before 2026-12-05 (``experiment=padded_to_maxlen``: padded
to ``maxlen``, the whole last block) against batches cut to their longest text
(``data.pad_to_multiple``) with similar lengths grouped (``data.length_grouping``), and against
the classifier's last block at [CLS] alone (``model.cls_only_last_block``), each alone and
together (today's defaults): the whole ``scripts/run.py`` command's
wall time and the best valid accuracy, side by side in one
benchmark run, the settings taking turns. Round ``r`` runs every setting with seed ``s + r``
(``s``: the config's ``seed``, 42), so the accuracies compare over as many seeds as rounds.

    python benchmarks/length_bucketing.py [--repeats 1] [ARGS for both runs ...]

Writes ``benchmarks/results/length_bucketing_<backend>_<cpu kind>.md`` with the machine and the
command.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import cpu_kind, describe  # noqa: E402

BEFORE = "pad to maxlen (128), the whole last block (`experiment=padded_to_maxlen`)"
AFTER = "pad_to_multiple=16, length_grouping=32, cls_only_last_block (the defaults)"
# every batch padded to maxlen, plain shuffling: one batch width a run
FULL_WIDTH = ["data.pad_to_multiple=null", "data.length_grouping=null"]
SETTINGS = {
    BEFORE: ["experiment=padded_to_maxlen"],
    "pad to maxlen, cls_only_last_block": FULL_WIDTH,
    "pad_to_multiple=16, length_grouping=32": ["model.cls_only_last_block=false"],
    AFTER: [],
    "pad_to_multiple=8, length_grouping=128, cls_only_last_block": [
        "data.pad_to_multiple=8",
        "data.length_grouping=128",
    ],
}


def default_seed() -> int:
    """The default experiment's seed (``seed`` in ``conf/config.yaml``)."""
    from omegaconf import OmegaConf

    return int(OmegaConf.load(ROOT / "conf" / "config.yaml").seed)


def run(folder: Path, overrides: list[str]) -> tuple[float, float]:
    """Seconds for the whole command, and its best valid accuracy."""
    from mlflow import MlflowClient

    store = f"sqlite:///{folder}/mlflow.db"
    command = [sys.executable, str(ROOT / "scripts" / "run.py"), *overrides]
    command += [f"hydra.run.dir={folder / 'run'}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    (result,) = MlflowClient(store).search_runs(["1"])
    return seconds, result.data.metrics["best_valid_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("args", nargs="*", help="overrides for both runs")
    options = parser.parse_args()
    first_seed = default_seed()
    results = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(options.repeats):
            for number, (name, overrides) in enumerate(SETTINGS.items()):
                folder = Path(scratch) / f"{repeat}-{number}"
                seed = f"seed={first_seed + repeat}"
                results[name].append(run(folder, [*options.args, *overrides, seed]))
                seconds, valid = results[name][-1]
                print(f"round {repeat + 1}: {name}: {seconds:.1f} s, valid {valid:.4f}", flush=True)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    baseline = statistics.median(r[0] for r in results[BEFORE])
    train = Path(ROOT / "data" / "sentiment" / "sentiment.train.data").read_text(encoding="utf-8")
    lengths = sorted(len(line.split("\t")[0]) + 2 for line in train.splitlines())
    longer = sum(length > 128 for length in lengths) / len(lengths)
    floor = statistics.mean(sorted_widths(lengths, maxlen=128, batch_size=64, multiple=16)) / 128
    lines = [
        "# Shorter padding and the [CLS]-only last block against the default experiment before them",
        "",
        f"Machine: {describe()}. Command: `python benchmarks/length_bucketing.py --repeats "
        f"{options.repeats}{' ' + ' '.join(options.args) if options.args else ''}`. Each time is "
        "the whole `scripts/run.py` command (start-up, data, graphs, 2 epochs, validation); the settings take turns. Training texts: median "
        f"{statistics.median(lengths)} tokens with [CLS] and [SEP], {100 * longer:.0f} % cut at 128, "
        "so a batch of 64 drawn at random is 128 wide almost always: the saving comes from grouping "
        "(training batches sorted within chunks of `length_grouping` batches; validation batches "
        "and the predictions file's, the whole split sorted by length).",
        "",
        f"Mean width: with the whole training split sorted by length, batches of 64 padded to a "
        f"multiple of 16 are on average {floor:.2f} of 128 wide. A step's time grows faster than "
        "its width (attention's part with its square), so the training steps can shrink below "
        "that share (`benchmarks/step_width.py` predicts them from measured step times); "
        "start-up, data and graph building do not shrink at all.",
        "",
        "`cls_only_last_block` computes the classifier's last block (of the default encoder's 2) "
        "at [CLS] alone, its keys and values at every position: the same logits and gradients "
        "(`tests/test_classifier.py`), other floating-point sums and dropout draws.",
        "",
        f"| setting | median s | range s | vs padded to maxlen | best valid accuracy, seeds "
        f"{first_seed}–{first_seed + options.repeats - 1} | mean | vs padded to maxlen |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    plain = statistics.mean(r[1] for r in results[BEFORE])
    for name, runs in results.items():
        times = [r[0] for r in runs]
        median = statistics.median(times)
        accuracy = statistics.mean(r[1] for r in runs)
        lines.append(
            f"| {name} | {median:.1f} | {min(times):.1f}–{max(times):.1f} | {median / baseline:.2f}× | "
            f"{', '.join(f'{100 * r[1]:.2f} %' for r in runs)} | {100 * accuracy:.2f} % | "
            f"{100 * (accuracy - plain):+.2f} points |"
        )
    report = ROOT / "benchmarks" / "results" / f"length_bucketing_{backend}_{cpu_kind()}.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def sorted_widths(lengths, maxlen: int, batch_size: int, multiple: int) -> list[int]:
    """The widths of batches of ``batch_size`` consecutive texts in length order, each padded to
    its longest (cut at ``maxlen``) rounded up to ``multiple``: the least any grouping can pad
    to."""
    cut = sorted(min(int(length), maxlen) for length in lengths)
    return [
        min(-(-max(cut[i : i + batch_size]) // multiple) * multiple, maxlen)
        for i in range(0, len(cut), batch_size)
    ]


if __name__ == "__main__":
    main()
