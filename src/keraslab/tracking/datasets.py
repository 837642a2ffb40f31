"""The data a run trained and was scored on, as MLflow dataset inputs (the UI's Datasets column).

Each split is one input, named by the data config (``sentiment``), with the split as its
context and a digest of exactly what the model sees: sha256 over the split's arrays (inputs,
labels, sample weights; names, dtypes, shapes and bytes, in name order), so two runs with the
same digest read the same encoded examples, whichever files or tokenizer produced them.
"""

import hashlib
import warnings
from collections.abc import Mapping

import numpy as np

from keraslab.data.encoded import EncodedSplit

CONTEXT_TAG = "mlflow.data.context"


def split_digest(split: EncodedSplit) -> str:
    """The first 16 hex digits of sha256 over every array of ``split``."""
    arrays = {f"inputs/{name}": array for name, array in split.inputs.items()}
    if isinstance(split.labels, dict):
        arrays.update({f"labels/{name}": array for name, array in split.labels.items()})
    elif split.labels is not None:
        arrays["labels"] = split.labels
    if split.sample_weights is not None:
        arrays["sample_weights"] = split.sample_weights
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def dataset_inputs(name: str, source: str | None, splits: Mapping[str, EncodedSplit]) -> list:
    """One MLflow ``DatasetInput`` per split; ``source`` is the data's folder or file, None for
    data made in code (the scikit-learn digits, bundled photos)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag

    if source:
        with warnings.catch_warnings():
            # MLflow registers an equal local source for the "" and the "file" schemes, then
            # warns on every path that it "can be interpreted in multiple ways"
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
            origin = resolve_dataset_source(source)
    else:
        origin = CodeDatasetSource({"data": name})
    return [
        DatasetInput(
            MetaDataset(origin, name=name, digest=split_digest(split))._to_mlflow_entity(),
            [InputTag(CONTEXT_TAG, split_name)],
        )
        for split_name, split in splits.items()
    ]
