"""An autoregressive prior over a VQ-VAE's code grids: a small causal Transformer.

A grid of codes read row by row is a sequence ``c_1 .. c_L`` over ``K`` codes. The model reads
``[BOS], c_1 .. c_{L-1}`` (``BOS = K``) and gives logits over the K codes at each position, so
position t predicts ``c_t`` from the codes before it: token and position embeddings (BERT's
:class:`~keraslab.models.layers.Embeddings`), ``num_layers`` Transformer blocks whose attention
is causal, and a Dense layer to K logits.
"""

import math

import keras
from keras import layers, ops

from keraslab.models.layers import Embeddings, TransformerBlock


@keras.saving.register_keras_serializable(package="keraslab")
class CodePrior(keras.Model):
    """Input ``codes`` (B, L) int (the shifted sequence); output logits (B, L, num_codes)."""

    def __init__(
        self,
        num_codes: int,
        length: int,
        hidden_size: int = 128,
        num_layers: int = 4,
        num_heads: int = 4,
        intermediate_size: int = 256,
        dropout: float = 0.1,
        **kwargs,
    ):
        codes = keras.Input((length,), dtype="int32", name="codes")
        embeddings = Embeddings(num_codes + 1, hidden_size, length, 1, dropout, name="embeddings")
        hidden = embeddings(codes, ops.zeros_like(codes))
        everywhere = ops.ones_like(codes)
        for index in range(num_layers):
            block = TransformerBlock(
                hidden_size,
                num_heads,
                intermediate_size,
                dropout=dropout,
                attention_dropout=dropout,
                causal=True,
                name=f"layer_{index}",
            )
            hidden = block(hidden, everywhere)
        logits = layers.Dense(num_codes, name="logits")(hidden)
        super().__init__(codes, logits, **kwargs)
        self.config = {
            "num_codes": num_codes,
            "length": length,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "intermediate_size": intermediate_size,
            "dropout": dropout,
        }

    def get_config(self):
        return {**self.config, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keraslab")
def bits_per_code(y_true, y_pred):
    """Cross-entropy of the next code in bits, ``−log2 p(c_t | c_<t)``, from logits."""
    return keras.losses.sparse_categorical_crossentropy(
        y_true, y_pred, from_logits=True
    ) / math.log(2)
