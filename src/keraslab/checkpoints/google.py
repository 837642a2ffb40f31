"""Google TF checkpoints (``bert_model.ckpt.{index,data-*}``) under Google's variable names.

This module is the TensorFlow edge of the project: it needs TensorFlow installed (whatever the
Keras backend), because only TensorFlow reads and writes this format.
"""

from collections.abc import Sequence
from pathlib import Path

import keras

from keraslab.checkpoints.names import check_fit, google_variable_map
from keraslab.checkpoints.vocab_surgery import VOCAB_TABLES, adapt_vocab_rows
from keraslab.errors import InputError

# Variables a pre-training checkpoint carries that are no part of a model: optimizer slots and
# the step counter.
TRAINING_STATE_SUFFIXES = ("/adam_m", "/adam_v")
TRAINING_STATE_NAMES = ("global_step",)


def load_google_checkpoint(
    model: keras.Model,
    checkpoint: str | Path,
    ignore_missing: bool = False,
    ignore_unexpected: bool = False,
    keep_tokens: Sequence[int] | None = None,
    compound_tokens: Sequence[Sequence[int]] | None = None,
) -> None:
    """Assign a Google checkpoint (its path prefix, e.g. ``.../bert_model.ckpt``) to the model.

    ``model`` is anything :func:`~keraslab.checkpoints.google_variable_map` names: an encoder, a
    classifier on one, or a masked LM (which also takes the ``cls/predictions`` head).

    Raises :class:`CheckpointMismatch` listing every missing, unexpected or mis-shaped variable.
    ``keep_tokens`` / ``compound_tokens`` reshape the vocabulary (:mod:`.vocab_surgery`).
    """
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(checkpoint))
    except (ValueError, tf.errors.OpError) as error:
        raise InputError(
            f"cannot read a TF checkpoint at {str(checkpoint)!r}: expected the path prefix of "
            f"bert_model.ckpt.index / .data-* files ({error})."
        ) from error
    shapes = {
        name: tuple(shape)
        for name, shape in reader.get_variable_to_shape_map().items()
        if not _is_training_state(name)
    }
    values = {}
    for table in VOCAB_TABLES:
        if table in shapes:
            values[table] = adapt_vocab_rows(
                _read_tensor(reader, table, checkpoint), keep_tokens, compound_tokens
            )
            shapes[table] = values[table].shape
    variables = google_variable_map(model)
    check_fit(
        checkpoint,
        {name: tuple(variable.shape) for name, variable in variables.items()},
        shapes,
        ignore_missing,
        ignore_unexpected,
    )
    for name, variable in variables.items():
        if name in shapes:
            value = values[name] if name in values else _read_tensor(reader, name, checkpoint)
            variable.assign(value)


def _read_tensor(reader, name: str, checkpoint):
    """``reader.get_tensor(name)``, or one error naming the checkpoint when its data is damaged."""
    try:
        return reader.get_tensor(name)
    except Exception as error:  # a truncated .data file: IndexError, DataLossError, ...
        raise InputError(
            f"checkpoint {str(checkpoint)!r}: variable {name} cannot be read "
            f"({type(error).__name__}: {error}); its .data file is damaged or truncated."
        ) from error


def save_google_checkpoint(model: keras.Model, checkpoint: str | Path) -> Path:
    """Write the model (encoder, and MLM head if any) as ``<checkpoint>.index`` + ``.data-*``."""
    import tensorflow as tf

    checkpoint = Path(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    names, tensors = zip(
        *(
            (name, tf.constant(keras.ops.convert_to_numpy(v)))
            for name, v in sorted(google_variable_map(model).items())
        ),
        strict=True,
    )
    tf.raw_ops.SaveV2(
        prefix=str(checkpoint),
        tensor_names=list(names),
        shape_and_slices=[""] * len(names),
        tensors=list(tensors),
    )
    return checkpoint


def _is_training_state(name: str) -> bool:
    return name in TRAINING_STATE_NAMES or name.endswith(TRAINING_STATE_SUFFIXES)
