"""The layers of a BERT-style encoder, written with ``keras.ops`` only (TensorFlow and JAX)."""

import math

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keraslab")
class Embeddings(layers.Layer):
    """``LayerNorm(token_embedding[t] + position_embedding[i])`` followed by dropout."""

    def __init__(
        self,
        vocab_size,
        hidden_size,
        max_positions,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_positions = max_positions
        self.dropout_rate = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.token_embedding = layers.Embedding(
            vocab_size, hidden_size, embeddings_initializer=init, name="word_embeddings"
        )
        self.position_embedding = layers.Embedding(
            max_positions, hidden_size, embeddings_initializer=init, name="position_embeddings"
        )
        self.layer_norm = layers.LayerNormalization(epsilon=layer_norm_epsilon, name="LayerNorm")
        self.dropout = layers.Dropout(dropout)

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build((input_shape[-1],))
        self.layer_norm.build((*input_shape, self.hidden_size))
        self.built = True

    def call(self, token_ids, training=None):
        positions = ops.arange(ops.shape(token_ids)[-1])
        hidden = self.token_embedding(token_ids) + self.position_embedding(positions)[None]
        return self.dropout(self.layer_norm(hidden), training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "max_positions": self.max_positions,
            "dropout": self.dropout_rate,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }


@keras.saving.register_keras_serializable(package="keraslab")
class SelfAttention(layers.Layer):
    """Multi-head self-attention.

    ``A = softmax(Q K^T / sqrt(d_head) + (1 - mask) * -1e9)`` per head, output ``Dense(concat(A V))``.
    Padded keys (``padding_mask == 0``) get a large negative score, so their weight is ~0.
    """

    def __init__(self, hidden_size, num_heads, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size {hidden_size} is not a multiple of num_heads {num_heads}"
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads
        self.dropout_rate = dropout
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.query = layers.Dense(hidden_size, kernel_initializer=init, name="query")
        self.key = layers.Dense(hidden_size, kernel_initializer=init, name="key")
        self.value = layers.Dense(hidden_size, kernel_initializer=init, name="value")
        self.output_dense = layers.Dense(hidden_size, kernel_initializer=init, name="output")
        self.dropout = layers.Dropout(dropout)

    def build(self, input_shape):
        for dense in (self.query, self.key, self.value, self.output_dense):
            dense.build(input_shape)
        self.built = True

    def _split_heads(self, x):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, length, self.num_heads, self.head_size))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, hidden, padding_mask, training=None):
        query = self._split_heads(self.query(hidden))
        key = self._split_heads(self.key(hidden))
        value = self._split_heads(self.value(hidden))
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2))) / math.sqrt(self.head_size)
        key_is_padding = 1.0 - ops.cast(padding_mask[:, None, None, :], scores.dtype)
        probabilities = ops.softmax(scores + key_is_padding * -1e9, axis=-1)
        context = ops.matmul(self.dropout(probabilities, training=training), value)
        context = ops.transpose(context, (0, 2, 1, 3))
        batch, length = ops.shape(hidden)[0], ops.shape(hidden)[1]
        return self.output_dense(ops.reshape(context, (batch, length, self.hidden_size)))

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "num_heads": self.num_heads,
            "dropout": self.dropout_rate,
        }


@keras.saving.register_keras_serializable(package="keraslab")
class TransformerBlock(layers.Layer):
    """Post-LayerNorm block: ``h = LN(x + Attn(x))``, ``out = LN(h + W2 gelu(W1 h))``."""

    def __init__(
        self,
        hidden_size,
        num_heads,
        intermediate_size,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.dropout_rate = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.attention = SelfAttention(hidden_size, num_heads, dropout, name="attention")
        self.attention_layer_norm = layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="attention_LayerNorm"
        )
        self.intermediate = layers.Dense(
            intermediate_size, kernel_initializer=init, name="intermediate"
        )
        self.output_dense = layers.Dense(hidden_size, kernel_initializer=init, name="output")
        self.output_layer_norm = layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="output_LayerNorm"
        )
        self.dropout = layers.Dropout(dropout)

    def build(self, input_shape):
        self.attention.build(input_shape)
        self.attention_layer_norm.build(input_shape)
        self.intermediate.build(input_shape)
        self.output_dense.build((*input_shape[:-1], self.intermediate_size))
        self.output_layer_norm.build(input_shape)
        self.built = True

    def call(self, hidden, padding_mask, training=None):
        attended = self.attention(hidden, padding_mask, training=training)
        hidden = self.attention_layer_norm(hidden + self.dropout(attended, training=training))
        expanded = ops.gelu(self.intermediate(hidden), approximate=False)
        return self.output_layer_norm(
            hidden + self.dropout(self.output_dense(expanded), training=training)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "dropout": self.dropout_rate,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }
