"""A BERT-style Transformer encoder as a functional Keras model."""

import keras

from keraslab.models.layers import Embeddings, TransformerBlock


def build_encoder(
    vocab_size: int,
    num_layers: int = 2,
    hidden_size: int = 128,
    num_heads: int = 4,
    intermediate_size: int = 512,
    max_positions: int = 512,
    dropout: float = 0.1,
    layer_norm_epsilon: float = 1e-12,
    name: str = "encoder",
) -> keras.Model:
    """Inputs ``token_ids`` and ``padding_mask`` (B, L); output ``sequence_output`` (B, L, hidden_size).

    Embeddings (token + position, LayerNorm, dropout), then ``num_layers`` post-LN Transformer blocks.
    """
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    padding_mask = keras.Input((None,), dtype="int32", name="padding_mask")
    hidden = Embeddings(
        vocab_size, hidden_size, max_positions, dropout, layer_norm_epsilon, name="embeddings"
    )(token_ids)
    for index in range(num_layers):
        hidden = TransformerBlock(
            hidden_size,
            num_heads,
            intermediate_size,
            dropout,
            layer_norm_epsilon,
            name=f"layer_{index}",
        )(hidden, padding_mask)
    return keras.Model(
        {"token_ids": token_ids, "padding_mask": padding_mask},
        {"sequence_output": hidden},
        name=name,
    )
