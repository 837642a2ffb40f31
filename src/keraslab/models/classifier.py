"""Sentence classification: a Dense layer on the encoder's [CLS] vector."""

from collections.abc import Mapping

import keras
from keras import layers

from keraslab.models.bert import bert_options, build_bert


def build_classifier(
    vocab_size: int,
    num_classes: int,
    encoder: Mapping,
    head_dropout: float = 0.1,
) -> keras.Model:
    """``logits = W dropout(sequence_output[:, 0]) + b`` over the BERT encoder built from ``encoder``
    options (our names, or Google's / HF's config keys).

    Returns a model from ``{"token_ids", "segment_ids", "padding_mask"}`` to logits (B, num_classes).
    """
    backbone = build_bert(vocab_size, **bert_options(encoder))
    cls_vector = backbone.output["sequence_output"][:, 0]
    cls_vector = layers.Dropout(head_dropout, name="head_dropout")(cls_vector)
    logits = layers.Dense(num_classes, name="logits")(cls_vector)
    return keras.Model(backbone.input, logits, name="classifier")
