"""A BERT encoder as a functional Keras model, configured by our names or by Google's / HF's.

``build_bert(vocab_size=..., num_layers=...)`` or ``build_bert(**bert_options(config_json))``:
inputs ``token_ids``, ``segment_ids``, ``padding_mask`` (B, L); outputs ``sequence_output``
(B, L, H) and ``pooled_output`` (B, H), ``pooled = tanh(W h_[CLS] + b)``.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

import keras
from keras import layers

from keraslab.errors import ConfigError
from keraslab.models.layers import ACTIVATIONS, Embeddings, TransformerBlock

if TYPE_CHECKING:
    from keraslab.checkpoints.auto import Checkpoint

# Google's bert_config.json and HF's config.json key -> our argument.
CONFIG_KEYS = {
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "hidden_act": "activation",
    "hidden_dropout_prob": "dropout",
    "attention_probs_dropout_prob": "attention_dropout",
    "max_position_embeddings": "max_positions",
    "layer_norm_eps": "layer_norm_epsilon",
}
# Their activation names -> ours.
ACTIVATION_NAMES = {"gelu_new": "gelu_approximate", "gelu_pytorch_tanh": "gelu_approximate"}
# Ours -> the name a config.json / bert_config.json carries.
EXPORTED_ACTIVATIONS = {"gelu": "gelu", "gelu_approximate": "gelu_new", "relu": "relu"}
ARGUMENTS = (
    "vocab_size",
    "num_layers",
    "hidden_size",
    "num_heads",
    "intermediate_size",
    "activation",
    "dropout",
    "attention_dropout",
    "max_positions",
    "type_vocab_size",
    "layer_norm_epsilon",
)


def bert_options(config: Mapping) -> dict:
    """``build_bert`` arguments from a config in our, Google's or HF's names; other keys are dropped."""
    options = {CONFIG_KEYS.get(key, key): value for key, value in config.items()}
    if "activation" in options:
        options["activation"] = ACTIVATION_NAMES.get(options["activation"], options["activation"])
        if options["activation"] not in ACTIVATIONS:
            raise ConfigError(
                f"activation (hidden_act) must be one of {', '.join(ACTIVATIONS)} "
                f"(or gelu_new / gelu_pytorch_tanh), got {options['activation']!r}."
            )
    return {key: value for key, value in options.items() if key in ARGUMENTS}


# With a checkpoint, the architecture is the checkpoint's; only these may be set from config.
CHECKPOINT_OVERRIDES = ("dropout", "attention_dropout")


def encoder_from_config(
    vocab_size: int, encoder: Mapping
) -> tuple[keras.Model, "Checkpoint | None"]:
    """An encoder built from config, and the checkpoint its weights are to come from (or None).

    ``encoder`` holds :func:`build_bert` options (our names, or Google's / HF's config keys).
    With ``encoder.checkpoint`` (an HF folder, a Google checkpoint, or ``minilm``) the architecture
    is the checkpoint's (``dropout`` / ``attention_dropout`` may still be set), and ``vocab_size``
    must match its vocab. The caller loads the weights, into the encoder or a model around it.
    """
    options = dict(encoder)
    checkpoint = options.pop("checkpoint", None)
    if not checkpoint:
        return build_bert(vocab_size, **bert_options(options)), None
    from keraslab.checkpoints.auto import find_checkpoint

    found = find_checkpoint(checkpoint)
    architecture = bert_options(found.config)
    architecture.update({k: options[k] for k in CHECKPOINT_OVERRIDES if options.get(k) is not None})
    return build_bert(**architecture), found


def bert_architecture(model: keras.Model) -> dict:
    """The :func:`build_bert` arguments that built ``model`` (read back from its layers)."""
    embeddings = model.get_layer("embeddings").config
    block = model.get_layer("layer_0").config
    return {
        "vocab_size": embeddings["vocab_size"],
        "num_layers": sum(layer.name.startswith("layer_") for layer in model.layers),
        "hidden_size": embeddings["hidden_size"],
        "num_heads": block["num_heads"],
        "intermediate_size": block["intermediate_size"],
        "activation": block["activation"],
        "dropout": block["dropout"],
        "attention_dropout": block["attention_dropout"],
        "max_positions": embeddings["max_positions"],
        "type_vocab_size": embeddings["type_vocab_size"],
        "layer_norm_epsilon": embeddings["layer_norm_epsilon"],
    }


def bert_config_json(architecture: Mapping, lowercase: bool) -> dict:
    """``architecture`` (:func:`bert_architecture`) in the keys that both Google's
    ``bert_config.json`` and HF's ``config.json`` use, plus ``do_lower_case`` for the tokenizer."""
    our_keys = {ours: theirs for theirs, ours in CONFIG_KEYS.items()}
    config = {our_keys.get(key, key): value for key, value in architecture.items()}
    config["hidden_act"] = EXPORTED_ACTIVATIONS[architecture["activation"]]
    return {**config, "initializer_range": 0.02, "model_type": "bert", "do_lower_case": lowercase}


def build_bert(
    vocab_size: int,
    num_layers: int = 12,
    hidden_size: int = 768,
    num_heads: int = 12,
    intermediate_size: int = 3072,
    activation: str = "gelu",
    dropout: float = 0.1,
    attention_dropout: float | None = None,
    max_positions: int = 512,
    type_vocab_size: int = 2,
    layer_norm_epsilon: float = 1e-12,
    name: str = "bert",
) -> keras.Model:
    """The encoder: embeddings, ``num_layers`` post-LN Transformer blocks, and the pooler.

    ``activation`` is ``gelu`` (exact, erf), ``gelu_approximate`` (tanh) or ``relu``;
    ``attention_dropout`` defaults to ``dropout``.
    """
    attention_dropout = dropout if attention_dropout is None else attention_dropout
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    segment_ids = keras.Input((None,), dtype="int32", name="segment_ids")
    padding_mask = keras.Input((None,), dtype="int32", name="padding_mask")
    hidden = Embeddings(
        vocab_size,
        hidden_size,
        max_positions,
        type_vocab_size,
        dropout,
        layer_norm_epsilon,
        name="embeddings",
    )(token_ids, segment_ids)
    for index in range(num_layers):
        hidden = TransformerBlock(
            hidden_size,
            num_heads,
            intermediate_size,
            activation,
            dropout,
            attention_dropout,
            layer_norm_epsilon,
            name=f"layer_{index}",
        )(hidden, padding_mask)
    pooled = layers.Dense(hidden_size, activation="tanh", name="pooler")(hidden[:, 0])
    return keras.Model(
        {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
        {"sequence_output": hidden, "pooled_output": pooled},
        name=name,
    )
