"""The sweep callback ends the parent run even when the comparison at the end breaks."""

from pathlib import Path

import pytest

from keraslab.tracking.sweep_callback import MlflowSweepCallback


class Tracker:
    def __init__(self):
        self.ended = []

    def summarise_parent(self, run_id, folder):
        raise ModuleNotFoundError("No module named 'matplotlib'")

    def end_parent(self, run_id):
        self.ended.append(run_id)


def test_a_broken_comparison_still_ends_the_parent():
    callback = MlflowSweepCallback()
    callback._tracker, callback._parent_run_id = Tracker(), "parent"
    callback._sweep_dir = Path("sweep")
    with pytest.raises(ModuleNotFoundError, match="matplotlib"):
        callback._end_parent()
    assert callback._tracker.ended == ["parent"]
    callback._end_parent()  # once only: at exit there is nothing left to end
    assert callback._tracker.ended == ["parent"]
