"""Shorter padding (``data.pad_to_multiple``, ``data.length_grouping``): each batch cut to its
longest text rounded up, similar lengths batched together, still every sample once an epoch in a
seeded order that every loader serves alike, the model's outputs unchanged by the cut, and a
bounded number of graphs (TensorFlow: one shape-generic trace; JAX: one per width)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import DEBUG, ROOT, finished_runs, tiny_classifier

from keraslab.data import EncodedSplit
from keraslab.loaders import InlineLoader, Schedule, SplitBatches, ThreadLoader


def text_split(lengths, maxlen: int, multiple: int | None = None) -> EncodedSplit:
    """Rows whose token ids count 1..length (0: padding), labelled by their row number."""
    positions = np.arange(maxlen)[None, :]
    mask = (positions < np.asarray(lengths)[:, None]).astype(np.int32)
    inputs = {"token_ids": mask * (positions + 1), "segment_ids": 0 * mask, "padding_mask": mask}
    inputs["row"] = np.arange(len(lengths))  # not a token input: never cut
    return EncodedSplit(inputs, np.arange(len(lengths)), pad_to_multiple=multiple)


def test_a_batch_is_cut_to_its_longest_text_rounded_up_to_the_multiple():
    split = text_split([3, 5, 17, 40], maxlen=48, multiple=16)
    for rows, width in [([0, 1], 16), ([0, 2], 32), ([3], 48), ([1, 3], 48)]:
        inputs, labels = split.take(np.array(rows))
        assert {name: a.shape for name, a in inputs.items()} == {
            "token_ids": (len(rows), width),
            "segment_ids": (len(rows), width),
            "padding_mask": (len(rows), width),
            "row": (len(rows),),
        }
        np.testing.assert_array_equal(inputs["padding_mask"].sum(1), np.array([3, 5, 17, 40])[rows])
        np.testing.assert_array_equal(labels, rows)
    capped = text_split([40], maxlen=40, multiple=16)  # 48 > maxlen: the full width
    assert capped.take(np.array([0]))[0]["token_ids"].shape == (1, 40)
    whole = text_split([3, 5], maxlen=48)  # no multiple: maxlen, as before
    assert whole.take(np.array([0, 1]))[0]["token_ids"].shape == (2, 48)


def test_data_parallel_shares_of_a_batch_are_as_wide_as_the_whole_batch():
    """The bug's minimal case: two workers each cut their half of a batch to its own longest
    text (3 and 17 tokens: widths 16 and 32), so their lock-step collectives got inputs of two
    shapes and the run aborted (gloo: "Received data size doesn't match expected size")."""
    split = text_split([3, 2, 17, 9], maxlen=48, multiple=16)
    whole = SplitBatches(split, 4).batch(0, 0)[0]
    shares = [SplitBatches(split, 4, share=(w, 2)).batch(0, 0)[0] for w in (0, 1)]
    assert whole["token_ids"].shape == (4, 32)
    assert [share["token_ids"].shape for share in shares] == [(2, 32), (2, 32)]
    for name in whole:
        np.testing.assert_array_equal(np.concatenate([s[name] for s in shares]), whole[name])
    inputs = split.take(np.array([0, 1]), width_of=np.array([0, 1, 2]))[0]
    assert inputs["padding_mask"].shape == (2, 32)  # width_of's width, not rows' own (16)


def grouped(n=1000, batch=32, group=8, seed=0, lengths=None):
    lengths = np.random.default_rng(7).integers(1, 129, n) if lengths is None else lengths
    split = text_split(lengths, maxlen=128, multiple=16)
    return SplitBatches(split, batch, shuffle=True, seed=seed, group_by_length=group), lengths


def test_grouping_keeps_every_sample_once_an_epoch_in_a_seeded_order_and_pads_less():
    batches, lengths = grouped()
    plain = SplitBatches(batches.split, 32, shuffle=True, seed=0)
    epochs = [
        np.concatenate([batches.batch(e, i)[0]["row"] for i in range(len(batches))]) for e in (0, 1)
    ]
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(1000))
    assert not np.array_equal(epochs[0], epochs[1])
    again, _ = grouped()
    np.testing.assert_array_equal(again.order(1), epochs[1])
    assert not np.array_equal(grouped(seed=1)[0].order(0), batches.order(0))
    # the short batch (1000 = 31 x 32 + 8) stays last, as rows() says
    assert len(batches.batch(0, 31)[1]) == batches.rows(31) == 8

    def width(b, e):
        return np.mean([b.batch(e, i)[0]["token_ids"].shape[1] for i in range(len(b))])

    # uniform lengths 1..128: a plain batch of 32 almost always holds a text longer than 112
    assert width(plain, 0) > 120 and width(batches, 0) < 0.8 * width(plain, 0)
    # a batch is an eighth of one sorted chunk of 8 x 32: its lengths span ~128 / 8, not ~128
    spread = [np.ptp(lengths[batches.batch(0, i)[0]["row"]]) for i in range(31)]
    plain_spread = [np.ptp(lengths[plain.batch(0, i)[0]["row"]]) for i in range(31)]
    assert np.median(spread) <= 24 and np.median(plain_spread) > 100


def test_an_unshuffled_split_is_sorted_by_length_and_its_outputs_put_back_in_its_order():
    """Validation and test batches (no shuffle) with grouping: the whole split sorted by length,
    the same every epoch, every row once; ``in_split_order`` maps per-row outputs back."""
    lengths = np.random.default_rng(3).integers(1, 129, 300)
    split = text_split(lengths, maxlen=128, multiple=16)
    batches = SplitBatches(split, 32, group_by_length=4)
    rows = np.concatenate([batches.batch(1, i)[0]["row"] for i in range(len(batches))])
    np.testing.assert_array_equal(rows, np.argsort(lengths, kind="stable"))
    np.testing.assert_array_equal(batches.order(0), batches.order(5))
    np.testing.assert_array_equal(batches.in_split_order(rows), np.arange(300))
    outputs = np.stack([rows, 2 * rows], axis=1)  # two columns per row, in batch order
    np.testing.assert_array_equal(batches.in_split_order(outputs)[:, 1], 2 * np.arange(300))
    plain = SplitBatches(split, 32)
    np.testing.assert_array_equal(plain.in_split_order(np.arange(300)), np.arange(300))

    def width(b):
        return np.mean([b.batch(0, i)[0]["token_ids"].shape[1] for i in range(len(b))])

    assert width(batches) < 0.7 * width(plain)  # sorted uniform lengths: ~(k + 1) / 10 of 128


@pytest.mark.parametrize("loader", [InlineLoader(), ThreadLoader(workers=2, max_queue_size=3)])
def test_every_loader_serves_the_grouped_cut_batches(loader):
    batches, _ = grouped(n=300, batch=16, group=4, seed=3)
    schedule = Schedule(batches, first_epoch=0, per_epoch=len(batches))
    with loader.open(schedule) as fetcher:
        for position in range(2 * len(batches)):
            got, want = fetcher.get(position), schedule(position)
            for name in want[0]:
                np.testing.assert_array_equal(got[0][name], want[0][name])


def test_the_classifier_gives_the_same_outputs_on_a_cut_batch(corpus):
    """Cutting removes padding only: the logits of every row agree with the full-width batch."""
    task, data, _ = tiny_classifier(corpus, "data.pad_to_multiple=8")
    model = task.build_model(data)
    split = data.splits["valid"]
    rows = np.argsort(split.lengths(), kind="stable")[:16]  # the shortest texts
    cut = split.take(rows)[0]
    full = {name: array[rows] for name, array in split.inputs.items()}
    assert cut["token_ids"].shape[1] < full["token_ids"].shape[1] == 32
    np.testing.assert_allclose(
        model.predict(cut, verbose=0), model.predict(full, verbose=0), atol=1e-5
    )


def test_scores_and_the_valid_errors_file_are_the_same_with_sorted_batches(corpus, tmp_path):
    """Valid loss and accuracy, and the classifier's ``valid_errors.tsv`` (each text with its own
    gold label, predicted label and probability), whether the valid batches go in file order at
    full width or sorted by length and cut."""
    import keras

    from keraslab.evaluation import split_results
    from keraslab.optimizers import build_optimizer
    from keraslab.tasks.classification import ERRORS_FILE
    from keraslab.tracking.mlflow_tracker import NullTracker

    def outputs(overrides, folder):
        task, data, _ = tiny_classifier(corpus, *overrides)
        keras.utils.set_random_seed(0)
        model = task.build_model(data)
        task.compile(model, build_optimizer("adam", 1e-3), jit_compile=False)
        scores = split_results(task, model, data, "valid", InlineLoader())
        folder.mkdir()
        task.log_artifacts(model, data, InlineLoader(), NullTracker(), folder)
        lines = (folder / ERRORS_FILE).read_text(encoding="utf-8").splitlines()[1:]
        return scores, [line.rsplit("\t", 1) for line in lines]

    whole_width = ["data.pad_to_multiple=null", "data.length_grouping=null"]
    plain_scores, plain = outputs(whole_width, tmp_path / "plain")
    scores, grouped = outputs(
        ["data.pad_to_multiple=8", "data.length_grouping=2"], tmp_path / "cut"
    )
    assert 0 < len(plain) < 64  # an untrained model gets some texts right, some wrong
    assert [row for row, _ in grouped] == [row for row, _ in plain]
    np.testing.assert_allclose(
        [float(p) for _, p in grouped], [float(p) for _, p in plain], atol=2e-4
    )
    assert scores.keys() == plain_scores.keys() == {"valid_loss", "valid_accuracy"}
    for name, value in scores.items():
        assert value == pytest.approx(plain_scores[name], abs=1e-5), name


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_graphs_stay_bounded_with_varying_widths(backend, corpus):
    """3 epochs on batches of several widths: TensorFlow traces the training step for an
    unknown width (never once per width); JAX compiles it once per width (its first batch's
    width once more: Keras's symbolic build)."""
    command = [sys.executable, str(ROOT / "tests" / "bucket_traces.py"), backend, str(corpus)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    widths = [str(w) for w in seen["widths"]]
    assert len(widths) >= 3, seen
    if backend == "tensorflow":
        assert set(seen["traces"]) == {"None"} and len(seen["traces"]) <= 2, seen
    else:
        assert set(seen["traces"]) == set(widths) and len(seen["traces"]) <= len(widths) + 1, seen


def test_a_run_with_shorter_padding_is_tracked_with_its_settings(corpus, tracking_uri, tmp_path):
    _, (run,) = finished_runs(
        [
            *DEBUG,
            "data.pad_to_multiple=8",
            "data.length_grouping=2",
            f"data.data_dir={corpus}",
            f"hydra.run.dir={tmp_path}/run",
        ],
        tracking_uri,
    )
    assert run.info.status == "FINISHED"
    assert (
        run.data.params["data.pad_to_multiple"] == "8"
        and run.data.params["data.length_grouping"] == "2"
    )
    assert 0.0 < run.data.metrics["test_accuracy"] <= 1.0


def test_the_step_width_benchmark_pads_each_sorted_batch_to_its_multiple():
    """Lengths 3, 10, 5, 20, 7 sorted, in batches of 2, each padded to a multiple of 8 under
    maxlen 16: (3, 5) -> 8, (7, 10) -> 16, (20 cut) -> 16."""
    from types import SimpleNamespace

    from conftest import benchmark_module

    benchmark = benchmark_module("step_width")
    mask = np.zeros((5, 16), "int32")
    for row, length in enumerate([3, 10, 5, 20, 7]):
        mask[row, : min(length, 16)] = 1
    split = EncodedSplit({"token_ids": mask.copy(), "padding_mask": mask})
    data = SimpleNamespace(splits={"train": split}, batch_size=2)
    assert benchmark.epoch_widths(data, multiple=8) == [8, 16, 16]
