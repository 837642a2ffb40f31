"""Sentence classification: a Dense layer on the encoder's [CLS] vector."""

from collections.abc import Mapping

import keras
from keras import layers

from keraslab.models.bert import BertBackbone, encoder_from_config
from keraslab.models.task_model import BackboneTaskModel


@keras.saving.register_keras_serializable(package="keraslab")
class BertClassifier(BackboneTaskModel):
    """``logits = W dropout(sequence_output[:, 0]) + b`` over ``backbone`` (a :class:`BertBackbone`).

    Inputs are the backbone's (``token_ids``, ``segment_ids``, ``padding_mask``); the output is
    the logits (B, num_classes).
    """

    def __init__(
        self, backbone: BertBackbone, num_classes: int, head_dropout: float = 0.1, **kwargs
    ):
        cls_vector = backbone(backbone.input)["sequence_output"][:, 0]
        dropped = layers.Dropout(head_dropout, name="head_dropout")(cls_vector)
        logits = layers.Dense(num_classes, name="logits")(dropped)
        super().__init__(backbone.input, logits, **kwargs)
        self.backbone = backbone
        self.num_classes = num_classes
        self.head_dropout = head_dropout
        # The head reads the [CLS] hidden state, not the pooler's output: nothing trains the
        # pooler, so say so instead of letting the optimizer warn that it has no gradient.
        backbone.pooler.trainable = False

    def head_config(self) -> dict:
        return {"num_classes": self.num_classes, "head_dropout": self.head_dropout}


def build_classifier(
    vocab_size: int,
    num_classes: int,
    encoder: Mapping,
    head_dropout: float = 0.1,
) -> BertClassifier:
    """A :class:`BertClassifier` over an encoder built from ``encoder``.

    ``encoder`` is as :func:`~keraslab.models.bert.encoder_from_config` takes it: options, or a
    checkpoint whose weights are loaded.
    """
    backbone, checkpoint = encoder_from_config(vocab_size, encoder)
    if checkpoint is not None:
        checkpoint.load_into(backbone)
    return BertClassifier(backbone, num_classes, head_dropout, name="classifier")
