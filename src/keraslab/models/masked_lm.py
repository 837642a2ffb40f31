"""Masked-language-model pre-training: BERT with Google's ``cls/predictions`` head.

The head reads the encoder's output at the masked positions only (as Google's BERT does), so the
``vocab_size``-wide projection costs ``max_predictions`` rows a sequence, not ``maxlen``.
"""

from collections.abc import Mapping

import keras
from keras import layers, ops

from keraslab.models.bert import BertBackbone, encoder_from_config
from keraslab.models.layers import ACTIVATIONS, bert_initializer
from keraslab.models.task_model import BackboneTaskModel


@keras.saving.register_keras_serializable(package="keraslab")
class MaskedLMHead(layers.Layer):
    """``logits = LN(act(h W + b)) E^T + output_bias`` for hidden vectors ``h`` (..., H).

    ``E`` is the encoder's word embedding table (``word_embeddings``, shared, not copied), so the
    output projection is tied to the input embeddings. Names follow Google's checkpoint
    (``cls/predictions/transform/dense``, ``.../LayerNorm``, ``cls/predictions/output_bias``).
    """

    def __init__(
        self,
        word_embeddings: layers.Embedding,
        activation: str = "gelu",
        layer_norm_epsilon: float = 1e-12,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.word_embeddings = word_embeddings
        self.activation_name = activation
        self.activation = ACTIVATIONS[activation]
        self.layer_norm_epsilon = layer_norm_epsilon
        hidden_size = word_embeddings.output_dim
        self.dense = layers.Dense(hidden_size, kernel_initializer=bert_initializer(), name="dense")
        self.layer_norm = layers.LayerNormalization(epsilon=layer_norm_epsilon, name="LayerNorm")

    def build(self, hidden_shape):
        self.dense.build(hidden_shape)
        self.layer_norm.build(hidden_shape)
        self.output_bias = self.add_weight(
            shape=(self.word_embeddings.input_dim,), initializer="zeros", name="output_bias"
        )

    def call(self, hidden):
        transformed = self.layer_norm(self.activation(self.dense(hidden)))
        table = ops.cast(self.word_embeddings.embeddings, transformed.dtype)
        return ops.matmul(transformed, ops.transpose(table)) + self.output_bias

    def get_config(self):
        # The embedding table is the encoder's: MaskedLanguageModel.from_config re-ties it.
        return {
            **super().get_config(),
            "activation": self.activation_name,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }


@keras.saving.register_keras_serializable(package="keraslab")
class MaskedLanguageModel(BackboneTaskModel):
    """``backbone`` (a :class:`~keraslab.models.BertBackbone`) plus :class:`MaskedLMHead`.

    Inputs: the encoder's (``token_ids``, ``segment_ids``, ``padding_mask``) and
    ``masked_positions`` (B, P), the positions to predict. Output: logits (B, P, vocab_size),
    ``logits[b, p] = head(sequence_output[b, masked_positions[b, p]])``.
    """

    def __init__(self, backbone: BertBackbone, **kwargs):
        masked_positions = keras.Input((None,), dtype="int32", name="masked_positions")
        inputs = {**backbone.input, "masked_positions": masked_positions}
        sequence = backbone(backbone.input)["sequence_output"]
        at_masks = ops.take_along_axis(sequence, masked_positions[:, :, None], axis=1)
        head = MaskedLMHead(
            backbone.embeddings.word_embeddings,
            backbone.architecture["activation"],
            backbone.architecture["layer_norm_epsilon"],
            name="mlm_head",
        )
        super().__init__(inputs, head(at_masks), **kwargs)
        self.backbone = backbone
        self.head = head
        # Without next-sentence prediction nothing trains the pooler; say so instead of letting
        # the optimizer warn that it has no gradient.
        backbone.pooler.trainable = False


def build_masked_lm(vocab_size: int, encoder: Mapping) -> MaskedLanguageModel:
    """A BERT encoder from ``encoder`` options (our names, Google's or HF's) with the MLM head.

    With ``encoder.checkpoint`` the encoder's architecture and weights come from the checkpoint
    (see :func:`~keraslab.models.bert.encoder_from_config`), and so does the head where the
    checkpoint has one.
    """
    backbone, checkpoint = encoder_from_config(vocab_size, encoder)
    model = MaskedLanguageModel(backbone, name="masked_lm")
    if checkpoint is not None:
        checkpoint.load_into(model)
    return model
