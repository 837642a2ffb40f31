"""Sentence classification: a Dense layer on the encoder's [CLS] vector."""

from collections.abc import Mapping

import keras
from keras import layers

from keraslab.models.bert import bert_options, build_bert

# With a checkpoint, the architecture is the checkpoint's; only these may be set from config.
CHECKPOINT_OVERRIDES = ("dropout", "attention_dropout")


def build_classifier(
    vocab_size: int,
    num_classes: int,
    encoder: Mapping,
    head_dropout: float = 0.1,
) -> keras.Model:
    """``logits = W dropout(sequence_output[:, 0]) + b`` over a BERT encoder.

    ``encoder`` holds :func:`~keraslab.models.build_bert` options (our names, or Google's / HF's
    config keys). With ``encoder.checkpoint`` (an HF folder, a Google checkpoint, or ``minilm``)
    the architecture and weights come from the checkpoint, and ``vocab_size`` must match its vocab.
    Returns a model from ``{"token_ids", "segment_ids", "padding_mask"}`` to logits (B, num_classes).
    """
    options = dict(encoder)
    checkpoint = options.pop("checkpoint", None)
    if checkpoint:
        from keraslab.checkpoints.auto import find_checkpoint

        found = find_checkpoint(checkpoint)
        architecture = bert_options(found.config)
        architecture.update(
            {k: options[k] for k in CHECKPOINT_OVERRIDES if options.get(k) is not None}
        )
        backbone = build_bert(**architecture)
        found.load_into(backbone)
    else:
        backbone = build_bert(vocab_size, **bert_options(options))
    cls_vector = layers.Dropout(head_dropout, name="head_dropout")(
        backbone.output["sequence_output"][:, 0]
    )
    logits = layers.Dense(num_classes, name="logits")(cls_vector)
    return keras.Model(backbone.input, logits, name="classifier")
