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

    With ``cls_only_last_block`` the [CLS] vector comes from :meth:`BertBackbone.cls_vector`,
    which computes the last block at [CLS] alone: the same logits and gradients for less work,
    but that block's probes hold the [CLS] row only (probe ``backbone`` for every position's),
    and the floating-point sums and dropout draws differ from the whole block's, so a run is
    not the bit-for-bit twin of one without it. Off by default, as classifiers saved before the
    option (their configs lack the key) and the published figures were.
    """

    def __init__(
        self,
        backbone: BertBackbone,
        num_classes: int,
        head_dropout: float = 0.1,
        cls_only_last_block: bool = False,
        **kwargs,
    ):
        cls_vector = (
            backbone.cls_vector(backbone.input)
            if cls_only_last_block
            else backbone(backbone.input)["sequence_output"][:, 0]
        )
        dropped = layers.Dropout(head_dropout, name="head_dropout")(cls_vector)
        logits = layers.Dense(num_classes, name="logits")(dropped)
        super().__init__(backbone.input, logits, **kwargs)
        self.backbone = backbone
        self.num_classes = num_classes
        self.head_dropout = head_dropout
        self.cls_only_last_block = cls_only_last_block
        # The head reads the [CLS] hidden state, not the pooler's output: nothing trains the
        # pooler, so say so instead of letting the optimizer warn that it has no gradient.
        backbone.pooler.trainable = False

    def head_config(self) -> dict:
        return {
            "num_classes": self.num_classes,
            "head_dropout": self.head_dropout,
            "cls_only_last_block": self.cls_only_last_block,
        }


def build_classifier(
    vocab_size: int,
    num_classes: int,
    encoder: Mapping,
    head_dropout: float = 0.1,
    cls_only_last_block: bool = False,
) -> BertClassifier:
    """A :class:`BertClassifier` over an encoder built from ``encoder``.

    ``encoder`` is as :func:`~keraslab.models.bert.encoder_from_config` takes it: options, or a
    checkpoint whose weights are loaded.
    """
    backbone, checkpoint = encoder_from_config(vocab_size, encoder)
    if checkpoint is not None:
        checkpoint.load_into(backbone)
    return BertClassifier(
        backbone, num_classes, head_dropout, cls_only_last_block, name="classifier"
    )
