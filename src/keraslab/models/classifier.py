"""Sentence classification: a Dense layer on the encoder's [CLS] vector."""

from collections.abc import Mapping

import keras
from keras import layers

from keraslab.models.bert import encoder_from_config


def build_classifier(
    vocab_size: int,
    num_classes: int,
    encoder: Mapping,
    head_dropout: float = 0.1,
) -> keras.Model:
    """``logits = W dropout(sequence_output[:, 0]) + b`` over a BERT encoder.

    ``encoder`` is as :func:`~keraslab.models.bert.encoder_from_config` takes it: options, or a
    checkpoint whose weights are loaded. Returns a model from ``{"token_ids", "segment_ids",
    "padding_mask"}`` to logits (B, num_classes).
    """
    backbone, checkpoint = encoder_from_config(vocab_size, encoder)
    if checkpoint is not None:
        checkpoint.load_into(backbone)
    cls_vector = layers.Dropout(head_dropout, name="head_dropout")(
        backbone.output["sequence_output"][:, 0]
    )
    logits = layers.Dense(num_classes, name="logits")(cls_vector)
    return keras.Model(backbone.input, logits, name="classifier")
