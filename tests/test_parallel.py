"""parallel_apply: map's results in order or as a multiset, streaming in bounded memory,
reproducible per-worker seeds, worker errors raised within 5 s, and no process left behind.
parallel_fold: one accumulator per worker, every item folded once, a slow worker handed fewer."""

import operator
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import process_helpers as helpers
import pytest

from keraslab.parallel import WorkerDiedError, parallel_apply, parallel_fold

TESTS = Path(__file__).resolve().parent


@pytest.mark.timeout(60)
@pytest.mark.parametrize("chunksize", [1, 7])
def test_ordered_results_equal_map(chunksize):
    items = range(200)
    got = parallel_apply(helpers.square, items, workers=2, max_queue_size=5, chunksize=chunksize)
    assert list(got) == list(map(helpers.square, items))


@pytest.mark.timeout(60)
def test_unordered_results_equal_map_as_a_multiset_in_completion_order():
    seconds = [0.5] + [0.0] * 9
    got = list(parallel_apply(helpers.sleep, seconds, workers=2, max_queue_size=10, ordered=False))
    assert Counter(got) == Counter(map(float, seconds))
    assert got[0] == 0.0  # the slow first item did not hold the others back


@pytest.mark.timeout(60)
def test_a_callback_gets_every_result_and_nothing_is_returned():
    seen = []
    returned = parallel_apply(helpers.square, range(50), 2, 4, ordered=False, callback=seen.append)
    assert returned is None
    assert sorted(seen) == [helpers.square(i) for i in range(50)]


@pytest.mark.timeout(120)
def test_a_million_items_stream_through_in_bounded_memory():
    items, queue, chunk = helpers.Counted(10**6), 4, 1000
    consumed, total, most_ahead = 0, 0, 0
    for result in parallel_apply(helpers.square, items, 2, queue, chunksize=chunk):
        consumed += 1
        total += result
        most_ahead = max(most_ahead, items.taken - consumed)
    assert consumed == items.taken == 10**6
    assert total == sum(i * i for i in range(10**6))
    # never more than max_queue_size chunks in flight, plus the one being handed back
    assert most_ahead <= (queue + 1) * chunk


@pytest.mark.timeout(30)
def test_a_worker_exception_is_raised_within_5s_with_its_traceback():
    before = helpers.descendants()
    results = parallel_apply(helpers.fail_at_three, range(100), workers=2, max_queue_size=4)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    start = time.monotonic()
    with pytest.raises(ValueError, match="bad line 3 in the corpus") as caught:
        next(results)
    assert time.monotonic() - start < 5
    assert "in fail_at_three" in str(caught.value.__cause__)
    assert helpers.wait_until_gone(helpers.descendants() - before) == []


@pytest.mark.timeout(30)
def test_a_dying_worker_is_reported_within_5s():
    start = time.monotonic()
    with pytest.raises(WorkerDiedError, match=r"died \(exit code 3\) while running exit_at_three"):
        parallel_apply(helpers.exit_at_three, range(100), 2, 4, callback=lambda result: None)
    assert time.monotonic() - start < 5


@pytest.mark.timeout(30)
def test_per_worker_seeds_are_reproducible_and_differ():
    draws = {}
    for worker, python_draw, numpy_draw in parallel_apply(
        helpers.seeded_draws, range(20), 2, 4, seed=10
    ):
        draws.setdefault(worker, []).append((python_draw, numpy_draw))
    assert sorted(draws) == [0, 1]
    for worker, got in draws.items():
        python, numpy = random.Random(10 + worker), np.random.RandomState(10 + worker)
        assert got == [(python.random(), numpy.random_sample()) for _ in got]
    assert draws[0][0] != draws[1][0]


@pytest.mark.timeout(60)
def test_a_function_may_run_its_own_process_pool():
    got = parallel_apply(helpers.sum_of_squares_in_a_pool, range(4), workers=2, max_queue_size=2)
    assert list(got) == [0, 1, 5, 14]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ending", ["exhausted", "closed early", "callback error"])
def test_no_process_outlives_the_call(ending):
    before = helpers.descendants()
    pids = set()
    if ending == "exhausted":
        pids.update(parallel_apply(helpers.worker_pid, range(20), 2, 4))
    elif ending == "closed early":
        results = parallel_apply(helpers.hang_in_a_pool_from_two, range(20), 2, 4)
        assert [next(results), next(results)] == [0, 1]
        time.sleep(1)  # the workers' nested pools start
        pids = helpers.descendants() - before
        results.close()
    else:
        with pytest.raises(ZeroDivisionError):
            parallel_apply(helpers.square, range(20), 2, 4, callback=lambda result: 1 / result)
    assert helpers.wait_until_gone(pids | (helpers.descendants() - before)) == []


CTRL_C_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
import process_helpers as helpers
from keraslab.parallel import parallel_apply

for result in parallel_apply(helpers.hang_in_a_pool_from_two, range(10), 2, 4):
    if result == 1:
        time.sleep(1)
        print(*sorted(helpers.descendants()), flush=True)
"""


@pytest.mark.timeout(60)
def test_no_process_outlives_a_ctrl_c():
    assert helpers.interrupt_and_list_survivors(CTRL_C_SCRIPT.format(tests=str(TESTS))) == []


def test_an_unpicklable_function_is_refused_at_the_call():
    with pytest.raises(TypeError, match=r"func .*lambda.* cannot be sent to a worker process"):
        parallel_apply(lambda item: item, range(3), workers=2, max_queue_size=2)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"workers must be an integer >= 1, got 0"):
        parallel_apply(helpers.square, range(3), workers=0, max_queue_size=2)
    with pytest.raises(ValueError, match=r"max_queue_size must be an integer >= 1, got None"):
        parallel_apply(helpers.square, range(3), workers=2, max_queue_size=None)
    with pytest.raises(ValueError, match=r"seed must be None or an integer in \[0, 2\*\*32"):
        parallel_apply(helpers.square, range(3), workers=2, max_queue_size=2, seed=-1)


def test_worker_index_is_none_outside_workers():
    from keraslab.parallel import worker_index

    assert worker_index() is None


@pytest.mark.timeout(30)
def test_a_function_that_cannot_be_loaded_in_a_worker_is_reported():
    with pytest.raises(WorkerDiedError, match="could not load") as caught:
        list(parallel_apply(helpers.LoadsOnlyHere(), range(3), workers=2, max_queue_size=2))
    assert "this object cannot be loaded in a worker" in str(caught.value)


@pytest.mark.timeout(30)
def test_unpicklable_results_and_exceptions_still_reach_the_caller():
    with pytest.raises(TypeError, match=r"cannot pickle '_thread\.lock' object"):
        list(parallel_apply(helpers.a_lock, range(3), workers=2, max_queue_size=2))
    with pytest.raises(RuntimeError, match="TwoArgumentError: item 0 failed") as caught:
        list(parallel_apply(helpers.raise_two_argument_error, range(3), 2, 2))
    assert "in raise_two_argument_error" in str(caught.value.__cause__)


@pytest.mark.timeout(60)
def test_fold_returns_one_accumulator_per_worker_that_add_up_to_the_total():
    items = helpers.Counted(10**5)
    totals = parallel_fold(operator.add, int, items, workers=2, max_queue_size=4, chunksize=997)
    assert len(totals) == 2 and all(total > 0 for total in totals)
    assert sum(totals) == sum(range(10**5)) and items.taken == 10**5


@pytest.mark.timeout(60)
def test_fold_folds_every_item_once_and_hands_a_slow_worker_fewer():
    slow, fast = parallel_fold(helpers.collect_slowly_in_worker_zero, list, range(60), 2, 2)
    assert sorted(slow + fast) == list(range(60))
    # 10x slower per item: an even split would give each 30; balanced, the slow one gets ~6
    assert len(slow) < 15 < len(fast)


@pytest.mark.timeout(30)
def test_a_fold_step_error_is_raised_within_5s_and_no_process_outlives_it():
    before = helpers.descendants()
    start = time.monotonic()
    with pytest.raises(ValueError, match="bad line 3 in the corpus") as caught:
        parallel_fold(helpers.add_unless_three, int, range(100), workers=2, max_queue_size=4)
    assert time.monotonic() - start < 5
    assert "in fail_at_three" in str(caught.value.__cause__)
    assert helpers.wait_until_gone(helpers.descendants() - before) == []


def test_fold_refuses_what_cannot_reach_a_worker():
    with pytest.raises(TypeError, match=r"initial .*lambda.* cannot be sent to a worker"):
        parallel_fold(operator.add, lambda: 0, range(3), workers=2, max_queue_size=2)
    with pytest.raises(ValueError, match=r"chunksize must be an integer >= 1, got 0"):
        parallel_fold(operator.add, int, range(3), workers=2, max_queue_size=2, chunksize=0)
