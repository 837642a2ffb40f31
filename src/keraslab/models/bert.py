"""A BERT encoder as a Keras model class, configured by our names or by Google's / HF's.

``BertBackbone(vocab_size=..., num_layers=...)`` or ``BertBackbone(**bert_options(config_json))``:
inputs ``token_ids``, ``segment_ids``, ``padding_mask`` (B, L); outputs ``sequence_output``
(B, L, H) and ``pooled_output`` (B, H), ``pooled = tanh(W h_[CLS] + b)``.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

import keras
from keras import layers

from keraslab.errors import ConfigError, InputError
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
    """``BertBackbone`` arguments from a config in our, Google's or HF's names; other keys are dropped."""
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
) -> tuple["BertBackbone", "Checkpoint | None"]:
    """An encoder built from config, and the checkpoint its weights are to come from (or None).

    ``encoder`` holds :class:`BertBackbone` options (our names, or Google's / HF's config keys).
    With ``encoder.checkpoint`` (an HF folder, a Google checkpoint, or ``minilm``) the architecture
    is the checkpoint's (``dropout`` / ``attention_dropout`` may still be set), and ``vocab_size``
    must match its vocab. The caller loads the weights, into the encoder or a model around it.
    """
    options = dict(encoder)
    checkpoint = options.pop("checkpoint", None)
    if not checkpoint:
        return BertBackbone(vocab_size, **bert_options(options)), None
    from keraslab.checkpoints.auto import find_checkpoint

    found = find_checkpoint(checkpoint)
    architecture = bert_options(found.config)
    if vocab_size > architecture["vocab_size"]:
        raise InputError(
            f"checkpoint {checkpoint!r}: its vocab {found.vocab} has {vocab_size} tokens but its "
            f"embedding table {architecture['vocab_size']} rows, so the last tokens have no "
            "vector; expected the vocab.txt that was trained with the checkpoint."
        )
    architecture.update({k: options[k] for k in CHECKPOINT_OVERRIDES if options.get(k) is not None})
    return BertBackbone(**architecture), found


def bert_config_json(architecture: Mapping, lowercase: bool) -> dict:
    """``architecture`` (:attr:`BertBackbone.architecture`) in the keys that both Google's
    ``bert_config.json`` and HF's ``config.json`` use, plus ``do_lower_case`` for the tokenizer."""
    our_keys = {ours: theirs for theirs, ours in CONFIG_KEYS.items()}
    config = {our_keys.get(key, key): value for key, value in architecture.items()}
    config["hidden_act"] = EXPORTED_ACTIVATIONS[architecture["activation"]]
    return {**config, "initializer_range": 0.02, "model_type": "bert", "do_lower_case": lowercase}


@keras.saving.register_keras_serializable(package="keraslab")
class BertBackbone(keras.Model):
    """The encoder: embeddings, ``num_layers`` post-LN Transformer blocks, and the pooler.

    A functional model (as keras-hub's ``BertBackbone``) whose constructor arguments are its
    config: ``get_config`` returns them and ``architecture`` holds the ones that define the
    weights, so nothing reads the architecture back from layer names. Task models keep it as
    ``.backbone``; ``embeddings``, ``transformer_layers`` and ``pooler`` are its parts.

    ``activation`` is ``gelu`` (exact, erf), ``gelu_approximate`` (tanh) or ``relu``;
    ``attention_dropout`` defaults to ``dropout``.
    """

    def __init__(
        self,
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
        **kwargs,
    ):
        attention_dropout = dropout if attention_dropout is None else attention_dropout
        architecture = {key: value for key, value in locals().items() if key in ARGUMENTS}
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input((None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input((None,), dtype="int32", name="padding_mask")
        embeddings = Embeddings(
            vocab_size,
            hidden_size,
            max_positions,
            type_vocab_size,
            dropout,
            layer_norm_epsilon,
            name="embeddings",
        )
        blocks = [
            TransformerBlock(
                hidden_size,
                num_heads,
                intermediate_size,
                activation,
                dropout,
                attention_dropout,
                layer_norm_epsilon,
                name=f"layer_{index}",
            )
            for index in range(num_layers)
        ]
        hidden = encode(embeddings, blocks, token_ids, segment_ids, padding_mask)
        pooler = layers.Dense(hidden_size, activation="tanh", name="pooler")
        pooled = pooler(hidden[:, 0])
        super().__init__(
            {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
            {"sequence_output": hidden, "pooled_output": pooled},
            name=name,
            **kwargs,
        )
        self.embeddings = embeddings
        self.transformer_layers = blocks
        self.pooler = pooler
        self.architecture = architecture

    def cls_vector(self, inputs):
        """``sequence_output[:, 0]`` of ``inputs`` (a dict like the backbone's input), with the
        last block computed for [CLS] alone: its queries, residuals and feed-forward at one
        position, its keys and values at all. The same vector for less work, for a head that
        reads nothing else (:class:`~keraslab.models.BertClassifier`)."""
        hidden = encode(
            self.embeddings,
            self.transformer_layers,
            inputs["token_ids"],
            inputs["segment_ids"],
            inputs["padding_mask"],
            last_rows=1,
        )
        return hidden[:, 0]

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self.architecture}


def encode(embeddings, blocks, token_ids, segment_ids, padding_mask, last_rows=None):
    """The blocks over the embeddings; with ``last_rows``, the last block's output at the first
    ``last_rows`` positions only."""
    hidden = embeddings(token_ids, segment_ids)
    for index, block in enumerate(blocks):
        rows = last_rows if index == len(blocks) - 1 else None
        hidden = block(hidden, padding_mask, rows=rows)
    return hidden
