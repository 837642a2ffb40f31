"""Runs log the data they trained and were scored on as MLflow dataset inputs: one per split,
named by the data config, with a digest of exactly the arrays the model sees."""

import warnings

import numpy as np

from keraslab.data.encoded import EncodedSplit
from keraslab.tracking.datasets import CONTEXT_TAG, dataset_inputs, split_digest


def split(tokens, labels=None, weights=None) -> EncodedSplit:
    return EncodedSplit({"tokens": np.asarray(tokens, np.int32)}, labels, weights)


def test_the_digest_follows_every_array_and_nothing_else():
    base = split([[1, 2], [3, 4]], np.array([0, 1]))
    assert split_digest(base) == split_digest(split([[1, 2], [3, 4]], np.array([0, 1])))
    assert len(split_digest(base)) == 16
    changed = [
        split([[1, 2], [3, 5]], np.array([0, 1])),  # one token
        split([[1, 2], [3, 4]], np.array([1, 1])),  # one label
        split([[1, 2, 3, 4]], np.array([0, 1])),  # same bytes, other shape
        split([[1, 2], [3, 4]], {"label": np.array([0, 1])}),  # labels named otherwise
        split([[1, 2], [3, 4]], np.array([0, 1]), np.array([1.0, 0.5])),  # weights
        EncodedSplit({"tokens": np.asarray([[1, 2], [3, 4]], np.int64)}, np.array([0, 1])),
    ]
    digests = {split_digest(other) for other in changed}
    assert split_digest(base) not in digests and len(digests) == len(changed)


def test_a_run_logs_each_split_with_its_digest_and_source(debug_run):
    client, run, _, _ = debug_run
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    contexts = {
        next(tag.value for tag in i.tags if tag.key == CONTEXT_TAG): i.dataset for i in inputs
    }
    assert set(contexts) == {"train", "valid", "test"}
    assert {d.name for d in contexts.values()} == {"sentiment"}
    assert len({d.digest for d in contexts.values()}) == 3
    assert all(d.source_type == "local" for d in contexts.values())


def test_a_data_folder_resolves_to_one_source_without_a_warning(tmp_path):
    """MLflow registers a local dataset source for the "" and the "file" schemes alike, and
    warns that a path "can be interpreted in multiple ways" on every run."""
    splits = {"train": split([[1, 2]], np.array([0]))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (dataset_input,) = dataset_inputs("sentiment", str(tmp_path), splits)
    assert dataset_input.dataset.source_type == "local"
    assert str(tmp_path) in dataset_input.dataset.source
