"""Hugging Face folders: ``config.json`` + ``model.safetensors`` + ``vocab.txt``, read without pickle."""

import json
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from keraslab.checkpoints.auto import WEIGHTS_FILE
from keraslab.checkpoints.names import check_fit, google_variable_map, hf_name, is_transposed_in_hf
from keraslab.checkpoints.vocab_surgery import VOCAB_TABLES, adapt_vocab_rows
from keraslab.errors import InputError

# Buffers that HF saves beside the weights; they carry no learned values.
HF_BUFFERS = ("embeddings.position_ids",)
HF_PREFIXES = ("bert.", "model.")


def read_hf_config(folder: str | Path) -> dict:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise InputError(
            f"{str(folder)!r} is not a Hugging Face model folder: it lacks config.json."
        )
    return json.loads(path.read_text())


def load_hf_weights(
    model: keras.Model,
    folder: str | Path,
    ignore_missing: bool = False,
    ignore_unexpected: bool = False,
    keep_tokens: Sequence[int] | None = None,
    compound_tokens: Sequence[Sequence[int]] | None = None,
) -> None:
    """Assign ``folder/model.safetensors`` to a :class:`~keraslab.models.BertBackbone`.

    Raises :class:`CheckpointMismatch` listing every missing, unexpected or mis-shaped tensor.
    A ``bert.`` prefix (as in ``BertForPreTraining`` checkpoints) is accepted.
    ``keep_tokens`` / ``compound_tokens`` reshape the vocabulary (:mod:`.vocab_surgery`).
    """
    from safetensors.numpy import load_file

    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        raise InputError(
            f"{str(folder)!r} is not a Hugging Face model folder: it lacks {WEIGHTS_FILE}."
        )
    try:
        stored = load_file(path)
    except Exception as error:  # SafetensorError on a truncated or foreign file
        raise InputError(
            f"{path} is not a readable safetensors file ({type(error).__name__}: {error}); "
            "it is damaged or truncated."
        ) from error
    tensors = {_strip_prefix(name): value for name, value in stored.items()}
    for table in map(hf_name, VOCAB_TABLES):
        if table in tensors:
            tensors[table] = adapt_vocab_rows(tensors[table], keep_tokens, compound_tokens)
    variables = {
        hf_name(google): (google, variable)
        for google, variable in google_variable_map(model).items()
    }
    check_fit(
        path,
        {name: _hf_shape(google, variable.shape) for name, (google, variable) in variables.items()},
        {name: value.shape for name, value in tensors.items() if name not in HF_BUFFERS},
        ignore_missing,
        ignore_unexpected,
    )
    for name, (google, variable) in variables.items():
        if name in tensors:
            value = tensors[name].T if is_transposed_in_hf(google) else tensors[name]
            variable.assign(value.astype(variable.dtype))


def save_hf_weights(model: keras.Model, folder: str | Path, config: dict | None = None) -> Path:
    """Write ``folder/model.safetensors`` (and ``config.json`` when given) in HF names and layout."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for google, variable in google_variable_map(model).items():
        value = keras.ops.convert_to_numpy(variable)
        tensors[hf_name(google)] = np.ascontiguousarray(
            value.T if is_transposed_in_hf(google) else value
        )
    save_file(tensors, folder / WEIGHTS_FILE)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder / WEIGHTS_FILE


def _hf_shape(google_name: str, shape) -> tuple:
    return tuple(reversed(shape)) if is_transposed_in_hf(google_name) else tuple(shape)


def _strip_prefix(name: str) -> str:
    for prefix in HF_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name
