"""The layers of a BERT encoder, written with ``keras.ops`` only (TensorFlow and JAX).

Sub-layer names follow Google's checkpoint names (``word_embeddings``, ``LayerNorm``, ``query``,
...) so that the checkpoint name map in :mod:`keraslab.checkpoints` reads like the checkpoint.
"""

import math

import keras
from keras import layers, ops

from keraslab.probes import record_probe

ACTIVATIONS = {
    "gelu": lambda x: ops.gelu(x, approximate=False),  # exact: x * Phi(x), with erf
    "gelu_approximate": lambda x: ops.gelu(x, approximate=True),  # tanh approximation
    "relu": ops.relu,
}


def token_wise(dense, hidden, activation=None):
    """``activation(dense(hidden))`` over the tokens as rows of one matrix, (batch * length,
    features): TensorFlow fuses a 2-D product with its bias and activation (oneDNN), not a
    batched one. Reshapes only relabel the tensor; the result has ``hidden``'s leading shape."""
    leading = ops.shape(hidden)[:-1]
    rows = dense(ops.reshape(hidden, (-1, ops.shape(hidden)[-1])))
    rows = rows if activation is None else activation(rows)
    return ops.reshape(rows, (*leading, ops.shape(rows)[-1]))


def bert_initializer():
    return keras.initializers.TruncatedNormal(stddev=0.02)


@keras.saving.register_keras_serializable(package="keraslab")
class Embeddings(layers.Layer):
    """``dropout(LayerNorm(word[t_i] + position[i] + token_type[s_i]))``."""

    def __init__(
        self,
        vocab_size,
        hidden_size,
        max_positions=512,
        type_vocab_size=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.config = {
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "max_positions": max_positions,
            "type_vocab_size": type_vocab_size,
            "dropout": dropout,
            "layer_norm_epsilon": layer_norm_epsilon,
        }
        self.word_embeddings = layers.Embedding(
            vocab_size,
            hidden_size,
            embeddings_initializer=bert_initializer(),
            name="word_embeddings",
        )
        self.position_embeddings = layers.Embedding(
            max_positions,
            hidden_size,
            embeddings_initializer=bert_initializer(),
            name="position_embeddings",
        )
        self.token_type_embeddings = layers.Embedding(
            type_vocab_size,
            hidden_size,
            embeddings_initializer=bert_initializer(),
            name="token_type_embeddings",
        )
        self.layer_norm = layers.LayerNormalization(epsilon=layer_norm_epsilon, name="LayerNorm")
        self.dropout = layers.Dropout(dropout)

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.word_embeddings.build(token_ids_shape)
        self.position_embeddings.build((None,))
        self.token_type_embeddings.build(token_ids_shape)
        self.layer_norm.build((*token_ids_shape, self.config["hidden_size"]))

    def call(self, token_ids, segment_ids, training=None):
        positions = ops.arange(ops.shape(token_ids)[-1])
        hidden = (
            self.word_embeddings(token_ids)
            + self.position_embeddings(positions)[None]
            + self.token_type_embeddings(segment_ids)
        )
        return self.dropout(self.layer_norm(hidden), training=training)

    def get_config(self):
        return {**super().get_config(), **self.config}


@keras.saving.register_keras_serializable(package="keraslab")
class SelfAttention(layers.Layer):
    """Multi-head self-attention.

    Per head: ``A = softmax(Q K^T / sqrt(d_head) + (1 - mask_k) * -1e9)``, ``head = dropout(A) V``;
    output ``Dense(concat(heads))``. Padded keys (``padding_mask == 0``) get weight ~0, and with
    ``causal`` so do the keys after each query (an autoregressive model's mask). With ``rows``,
    only the first ``rows`` positions ask (queries), all positions answer (keys and values):
    the output is the full call's first ``rows`` positions, at a fraction of the cost.
    Probe ``attention_probs``: ``A``, shape (batch, heads, queries, keys).
    """

    def __init__(self, hidden_size, num_heads, attention_dropout=0.1, causal=False, **kwargs):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size {hidden_size} is not a multiple of num_heads {num_heads}"
            )
        self.config = {
            "hidden_size": hidden_size,
            "num_heads": num_heads,
            "attention_dropout": attention_dropout,
            "causal": causal,
        }
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads
        self.query = layers.Dense(hidden_size, kernel_initializer=bert_initializer(), name="query")
        self.key = layers.Dense(hidden_size, kernel_initializer=bert_initializer(), name="key")
        self.value = layers.Dense(hidden_size, kernel_initializer=bert_initializer(), name="value")
        self.output_dense = layers.Dense(
            hidden_size, kernel_initializer=bert_initializer(), name="output_dense"
        )
        self.dropout = layers.Dropout(attention_dropout)

    def build(self, hidden_shape, padding_mask_shape=None):
        for dense in (self.query, self.key, self.value, self.output_dense):
            dense.build(hidden_shape)

    def call(self, hidden, padding_mask, training=None, rows=None):
        batch, length = ops.shape(hidden)[0], ops.shape(hidden)[1]
        heads = (batch, length, self.num_heads, self.head_size)
        asking = hidden if rows is None else hidden[:, :rows]
        # Scaling the queries (B, L, H) is cheaper than scaling the scores (B, heads, L, L);
        # einsum writes the batched products on the (B, L, heads, d) layout with no transposes
        # of ours (TensorFlow's einsum still transposes operands inside).
        query = ops.reshape(
            token_wise(self.query, asking), (batch, -1, self.num_heads, self.head_size)
        ) * (1.0 / math.sqrt(self.head_size))
        key = ops.reshape(token_wise(self.key, hidden), heads)
        value = ops.reshape(token_wise(self.value, hidden), heads)
        # The mask and softmax in float32 whatever the compute dtype: -1e9 is -inf in float16
        # (and 0 * -inf is nan), and 16-bit exponentials lose the small probabilities.
        scores = ops.cast(ops.einsum("bqhd,bkhd->bhqk", query, key), "float32")
        hidden_keys = 1.0 - ops.cast(padding_mask[:, None, None, :], "float32")
        if self.config["causal"]:
            later = 1.0 - ops.tril(ops.ones((length, length), "float32"))[:rows]
            hidden_keys = ops.maximum(hidden_keys, later[None, None])
        probabilities = ops.cast(
            ops.softmax(scores + hidden_keys * -1e9, axis=-1), self.compute_dtype
        )
        record_probe(self, "attention_probs", probabilities)
        dropped = self.dropout(probabilities, training=training)
        context = ops.einsum("bhqk,bkhd->bqhd", dropped, value)
        return token_wise(
            self.output_dense, ops.reshape(context, (batch, -1, self.config["hidden_size"]))
        )

    def get_config(self):
        return {**super().get_config(), **self.config}


@keras.saving.register_keras_serializable(package="keraslab")
class TransformerBlock(layers.Layer):
    """Post-LayerNorm block: ``h = LN(x + dropout(Attn(x)))``, ``out = LN(h + dropout(W2 act(W1 h)))``."""

    def __init__(
        self,
        hidden_size,
        num_heads,
        intermediate_size,
        activation="gelu",
        dropout=0.1,
        attention_dropout=0.1,
        layer_norm_epsilon=1e-12,
        causal=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}"
            )
        self.config = {
            "hidden_size": hidden_size,
            "num_heads": num_heads,
            "intermediate_size": intermediate_size,
            "activation": activation,
            "dropout": dropout,
            "attention_dropout": attention_dropout,
            "layer_norm_epsilon": layer_norm_epsilon,
            "causal": causal,
        }
        self.activation = ACTIVATIONS[activation]
        self.attention = SelfAttention(
            hidden_size, num_heads, attention_dropout, causal, name="attention"
        )
        self.attention_layer_norm = layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="attention_LayerNorm"
        )
        self.intermediate = layers.Dense(
            intermediate_size, kernel_initializer=bert_initializer(), name="intermediate"
        )
        self.output_dense = layers.Dense(
            hidden_size, kernel_initializer=bert_initializer(), name="output_dense"
        )
        self.output_layer_norm = layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="output_LayerNorm"
        )
        self.dropout = layers.Dropout(dropout)

    def build(self, hidden_shape, padding_mask_shape=None):
        self.attention.build(hidden_shape)
        self.attention_layer_norm.build(hidden_shape)
        self.intermediate.build(hidden_shape)
        self.output_dense.build((*hidden_shape[:-1], self.config["intermediate_size"]))
        self.output_layer_norm.build(hidden_shape)

    def call(self, hidden, padding_mask, training=None, normalize=True, rows=None):
        """The block's output; with ``normalize=False`` the residual sum ``h + dropout(FFN(h))``
        that ``output_layer_norm`` would normalise (for a head that normalises it its own way).
        With ``rows``, the output at the first ``rows`` positions only (see
        :class:`SelfAttention`): what a head that reads [CLS] alone needs of the last block."""
        attended = self.attention(hidden, padding_mask, training=training, rows=rows)
        hidden = hidden if rows is None else hidden[:, :rows]
        hidden = self.attention_layer_norm(hidden + self.dropout(attended, training=training))
        expanded = token_wise(self.intermediate, hidden, self.activation)
        residual = hidden + self.dropout(token_wise(self.output_dense, expanded), training=training)
        return self.output_layer_norm(residual) if normalize else residual

    def get_config(self):
        return {**super().get_config(), **self.config}
