"""What one training step of the default experiment costs at each batch width, against the full
width (128): the step time as a function of width, and what it predicts for a run's training
steps under shorter padding, from the widths that run's batches really have.

    python benchmarks/step_width.py [--repeats 10] [OVERRIDES ...]

The model, optimizer and batch size are the default experiment's (composed from ``conf/`` with
the overrides), every position through every block (``model.cls_only_last_block=false``),
timed with ``train_on_batch`` on one batch of training rows cut to each width (a multiple of
8): three warm-up steps each, then rounds that time every width once (the machine's drift hits
every width alike); medians. A setting's predicted ratio is the mean step
time over its epoch-0 training batch widths against the full width's; the whole split sorted
by length gives the least any grouping can reach. Writes
``benchmarks/results/step_width_<backend>_<cpu kind>.md``.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("KERASLAB_ROOT", str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from length_bucketing import sorted_widths  # noqa: E402
from machine import cpu_kind, describe  # noqa: E402

# The batch widths of benchmarks/length_bucketing.py's shorter-padding settings
SETTINGS = {
    "pad_to_multiple=16, length_grouping=32 (the defaults)": [],
    "pad_to_multiple=8, length_grouping=128": [
        "data.pad_to_multiple=8",
        "data.length_grouping=128",
    ],
}
# every position through every block, the step whose width the results files measured
WHOLE_BLOCKS = ["model.cls_only_last_block=false"]


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def setup(overrides: list[str]):
    """The task and its data, as ``scripts/run.py`` builds them."""
    from keraslab.config_checks import instantiate_section

    cfg = compose(overrides)
    task = instantiate_section(cfg, "model")
    return cfg, task, instantiate_section(cfg, "data").setup(**task.data_options())


def epoch_widths(data, multiple: int | None = None) -> list[int]:
    """The width of every training batch of epoch 0 (``multiple``: the whole split sorted by
    length, batches padded to that multiple, instead of the data's own order)."""
    split, size = data.splits["train"], data.batch_size
    if multiple:
        return sorted_widths(split.lengths(), split.inputs["padding_mask"].shape[1], size, multiple)
    batches = data.batches("train", seed=0)
    order = batches.order(0)
    return [split.width(order[i * size : (i + 1) * size]) for i in range(len(batches))]


def step_times(overrides: list[str], repeats: int) -> dict[int, float]:
    """Median seconds of one training step on a batch cut to each multiple of 8 up to maxlen."""
    from keraslab.config_checks import instantiate_section
    from keraslab.training.seeding import seed_everything

    cfg, task, data = setup([*WHOLE_BLOCKS, *overrides])
    seed_everything(cfg.seed)
    trainer = instantiate_section(cfg, "trainer")
    model = task.build_model(data)
    task.compile(model, instantiate_section(cfg, "optimizer"), trainer.jit_compile)
    split = data.splits["train"]
    inputs, labels = split.take(np.arange(data.batch_size))[:2]
    maxlen = inputs["padding_mask"].shape[1]
    batches = {}
    for width in range(8, maxlen + 1, 8):
        cut = {name: value[:, :width] for name, value in inputs.items()}
        cut["padding_mask"] = np.ones_like(cut["padding_mask"])  # every token real: same work
        for _ in range(3):
            model.train_on_batch(cut, labels)
        batches[width] = cut
    seconds = {width: [] for width in batches}
    for _ in range(repeats):  # rounds over every width: the machine's drift hits all alike
        for width, cut in batches.items():
            start = time.perf_counter()
            model.train_on_batch(cut, labels)  # returns numbers: the step has finished
            seconds[width].append(time.perf_counter() - start)
    return {width: statistics.median(values) for width, values in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("overrides", nargs="*", help="config overrides for every setting")
    args = parser.parse_args()
    times = step_times(args.overrides, args.repeats)
    full = max(times)

    def predicted(batch_widths: list[int]) -> float:
        return statistics.mean(times[w] for w in batch_widths) / times[full]

    rows = []
    for name, overrides in SETTINGS.items():
        data = setup([*args.overrides, *overrides])[2]
        rows.append((name, epoch_widths(data)))
    rows.insert(0, ("the whole split sorted, multiple of 8 (the floor)", epoch_widths(data, 8)))

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    extra = " " + " ".join(args.overrides) if args.overrides else ""
    lines = [
        "# Step time by batch width: the default experiment's training step",
        "",
        f"Machine: {describe()}. Command: `python benchmarks/step_width.py --repeats "
        f"{args.repeats}{extra}`. One training step (`train_on_batch`, batch "
        f"{data.batch_size}, every token real) at each width, median of {args.repeats} "
        "rounds over every width after 3 warm-up steps each; the peer is the full width, what "
        "padding to maxlen runs every step.",
        "",
        "| width | step ms | vs width 128 |",
        "| --- | --- | --- |",
        *(f"| {w} | {1000 * t:.1f} | {t / times[full]:.2f}× |" for w, t in times.items()),
        "",
        "Training steps' time predicted from these step times and each setting's epoch-0 batch "
        "widths (the run's other costs, start-up, validation, graphs, not included):",
        "",
        "| batches | mean width | predicted step time vs padded |",
        "| --- | --- | --- |",
        *(f"| {name} | {statistics.mean(w):.1f} | {predicted(w):.2f}× |" for name, w in rows),
    ]
    report = ROOT / "benchmarks" / "results" / f"step_width_{backend}_{cpu_kind()}.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
