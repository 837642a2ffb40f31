"""loader=processes: the inline batches bit for bit; a worker's exception or death raised within
5 s, with its traceback; no process left behind after success, an error or Ctrl-C; spawn-safe
(nothing unpicklable is sent, nothing is inherited); a batch function may run its own pool."""

import contextlib
import functools
import threading
import time
from pathlib import Path

import numpy as np
import process_helpers as helpers
import pytest

from keraslab.data import EncodedSplit
from keraslab.loaders import InlineLoader, ProcessLoader, Schedule, SplitBatches
from keraslab.process_pool import WorkerDiedError

TESTS = Path(__file__).resolve().parent


def flat(batch) -> list[np.ndarray]:
    inputs, *rest = batch
    return [*(inputs[name] for name in sorted(inputs)), *rest]


@pytest.mark.timeout(180)
def test_processes_give_the_inline_batches_bit_for_bit():
    rng = np.random.default_rng(0)
    split = EncodedSplit(
        {"x": rng.normal(size=(50, 3))}, rng.integers(0, 2, 50), transform=helpers.noisy
    )
    schedule = Schedule(SplitBatches(split, 8, shuffle=True, seed=4), first_epoch=1, per_epoch=7)
    positions = [*range(16), 0, 1, 2]  # two epochs and a bit, then a new pass from the start
    with InlineLoader().open(schedule) as inline, ProcessLoader(2, 3).open(schedule) as processes:
        pairs = [(inline.get(k), processes.get(k)) for k in positions]
    for expected, got in pairs:
        for want, have in zip(flat(expected), flat(got), strict=True):
            assert have.dtype == want.dtype and have.shape == want.shape
            assert have.tobytes() == want.tobytes()
    # the transform's draws differ between epochs, so equality above checks the seeding too
    assert not np.array_equal(pairs[0][0][0]["x"], pairs[7][0][0]["x"])


@pytest.mark.timeout(30)
def test_a_worker_exception_reaches_get_within_5s_with_its_traceback():
    before = helpers.descendants()
    with ProcessLoader(workers=2, max_queue_size=4).open(helpers.fail_at_three) as fetcher:
        assert [fetcher.get(k) for k in range(3)] == [0, 1, 2]
        start = time.monotonic()
        with pytest.raises(ValueError, match="bad line 3 in the corpus") as caught:
            fetcher.get(3)
        assert time.monotonic() - start < 5
        assert fetcher.get(4) == 4  # one bad batch does not stop the loader
        workers = helpers.descendants() - before
    worker_traceback = str(caught.value.__cause__)
    assert "Traceback (most recent call last)" in worker_traceback
    assert 'raise ValueError("bad line 3 in the corpus")' in worker_traceback
    assert "in fail_at_three" in worker_traceback
    assert len(workers) == 2 and helpers.wait_until_gone(workers) == []


@pytest.mark.timeout(60)
def test_a_worker_exception_leaves_fit_with_its_type_and_traceback():
    import keras

    from keraslab.loaders.keras_input import keras_input

    split = EncodedSplit({"x": np.arange(12)[:, None]}, np.arange(12, dtype="float32"))
    batches = SplitBatches(
        EncodedSplit(split.inputs, split.labels, transform=helpers.refuse_rows_from_eight), 4
    )
    model = keras.Sequential([keras.Input((1,), name="x"), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with (
        pytest.raises(ValueError, match="bad row 11 in the corpus") as caught,
        keras_input(batches, ProcessLoader(workers=1, max_queue_size=2), endless=True) as stream,
    ):
        model.fit(stream, epochs=1, steps_per_epoch=3, verbose=0)
    assert "in refuse_rows_from_eight" in str(caught.value.__cause__)


@pytest.mark.timeout(30)
def test_an_exception_whose_class_the_parent_cannot_load_keeps_its_name_message_and_traceback():
    with (
        ProcessLoader(workers=1, max_queue_size=1).open(helpers.raise_worker_only_error) as fetcher,
        pytest.raises(
            RuntimeError,
            match=r"worker_only_errors.WorkerOnlyError: item 0 is bad \(raised in a worker",
        ) as caught,
    ):
        fetcher.get(0)
    assert "in raise_worker_only_error" in str(caught.value.__cause__)


@pytest.mark.timeout(30)
def test_a_dying_worker_is_reported_within_5s_naming_it_and_its_batch():
    before = helpers.descendants()
    start = time.monotonic()
    loader = ProcessLoader(workers=2, max_queue_size=4)
    with pytest.raises(WorkerDiedError) as caught, loader.open(helpers.exit_at_three) as fetcher:
        for position in range(10):
            fetcher.get(position)
    assert time.monotonic() - start < 5  # start-up, the death, and the clean-up
    assert "died (exit code 3) while running exit_at_three(3)" in str(caught.value)
    assert helpers.wait_until_gone(helpers.descendants() - before) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ending", ["success", "error in the trainer"])
def test_no_process_outlives_the_fetcher(ending):
    """Workers busy in nested pools at the end: their children must go too."""
    before = helpers.descendants()
    start = time.monotonic()
    expected = pytest.raises(RuntimeError) if ending != "success" else contextlib.nullcontext()
    with expected, ProcessLoader(2, 4).open(helpers.hang_in_a_pool_from_two) as fetcher:
        assert [fetcher.get(0), fetcher.get(1)] == [0, 1]
        time.sleep(1)  # the workers' nested pools start
        started = helpers.descendants() - before
        if ending != "success":
            raise RuntimeError("the model failed")
    assert len(started) >= 4  # two workers and a pool child each
    assert helpers.wait_until_gone(started) == []
    assert time.monotonic() - start < 20  # busy workers are killed, not waited for


CTRL_C_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
import process_helpers as helpers
from keraslab.loaders import ProcessLoader

with ProcessLoader(2, 4).open(helpers.hang_in_a_pool_from_two) as fetcher:
    fetcher.get(0), fetcher.get(1)
    time.sleep(1)
    print(*sorted(helpers.descendants()), flush=True)
    fetcher.get(2)  # waits a minute on a nested pool: interrupted here
"""


@pytest.mark.timeout(120)
def test_no_process_outlives_a_ctrl_c():
    assert helpers.interrupt_and_list_survivors(CTRL_C_SCRIPT.format(tests=str(TESTS))) == []


@pytest.mark.parametrize(
    ("make_produce", "problem"),
    [
        (lambda: lambda position: position, "lambda"),
        (lambda: _local_function(), "local object"),
        (lambda: functools.partial(helpers.square, threading.Lock()), "_thread.lock"),
    ],
    ids=["lambda", "local function", "holds a lock"],
)
def test_an_unpicklable_produce_is_refused_before_any_process_starts(make_produce, problem):
    before = helpers.descendants()
    with pytest.raises(TypeError, match="cannot be sent to a worker process") as caught:
        ProcessLoader().open(make_produce())
    assert problem in str(caught.value) and "spawn" in str(caught.value)
    assert helpers.descendants() == before


def _local_function():
    def produce(position):
        return position

    return produce


@pytest.mark.timeout(30)
def test_workers_are_spawned_and_inherit_nothing(monkeypatch):
    monkeypatch.setattr(helpers, "MARK", "changed in the parent")
    with ProcessLoader(workers=2, max_queue_size=2).open(helpers.mark, limit=2) as fetcher:
        assert [fetcher.get(0), fetcher.get(1)] == ["fresh", "fresh"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("context", [None, "spawn"], ids=["default context", "spawn"])
def test_a_batch_function_may_run_its_own_process_pool(context):
    produce = functools.partial(helpers.sum_of_squares_in_a_pool, context=context)
    with ProcessLoader(workers=2, max_queue_size=2).open(produce, limit=4) as fetcher:
        got = [fetcher.get(k) for k in range(4)]
    assert got == [0, 1, 5, 14]


def test_bad_options_are_named():
    with pytest.raises(ValueError, match=r"loader.workers must be an integer >= 1, got 0"):
        ProcessLoader(workers=0)
    with pytest.raises(ValueError, match=r"loader.max_queue_size must be an integer >= 1, got"):
        ProcessLoader(max_queue_size=2.5)
