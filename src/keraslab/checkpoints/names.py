"""One name map for both checkpoint formats.

``google_variable_map(model)`` maps Google's variable names (``bert/encoder/layer_0/attention/
self/query/kernel``) to our Keras variables, for an encoder or a model around one (with the
masked-LM head's ``cls/predictions/...`` when it has that head); :func:`hf_name` turns a Google
name into its Hugging Face name (``encoder.layer.0.attention.self.query.weight``), whose dense
kernels are transposed.
"""

import re

import keras

from keraslab.errors import InputError

# Sub-layer of a TransformerBlock -> its Google path inside ``layer_<i>/``.
BLOCK_PATHS = {
    ("attention", "query"): "attention/self/query",
    ("attention", "key"): "attention/self/key",
    ("attention", "value"): "attention/self/value",
    ("attention", "output_dense"): "attention/output/dense",
    ("attention_layer_norm",): "attention/output/LayerNorm",
    ("intermediate",): "intermediate/dense",
    ("output_dense",): "output/dense",
    ("output_layer_norm",): "output/LayerNorm",
}
HF_LEAVES = {"kernel": "weight", "gamma": "weight", "beta": "bias", "bias": "bias"}
# Google names whose HF name does not follow from the rules in hf_name.
HF_EXCEPTIONS = {"cls/predictions/output_bias": "cls.predictions.bias"}
# Pre-training heads: loaded into a model that has them, skipped by one that has not.
HEAD_PREFIXES = ("cls/", "cls.")


class CheckpointMismatch(InputError):
    """A checkpoint's variables do not fit the model: lists every missing, unexpected or mis-shaped one."""

    def __init__(self, source, missing=(), unexpected=(), misshaped=()):
        parts = []
        if missing:
            parts.append(f"missing from the checkpoint: {', '.join(missing)}")
        if unexpected:
            parts.append(f"not in the model: {', '.join(unexpected)}")
        if misshaped:
            parts.append(f"of the wrong shape: {', '.join(misshaped)}")
        super().__init__(
            f"checkpoint {source} does not fit the model; {'; '.join(parts)}. Pass "
            "ignore_missing=True / ignore_unexpected=True to load the rest anyway."
        )
        self.missing, self.unexpected, self.misshaped = (
            list(missing),
            list(unexpected),
            list(misshaped),
        )


def check_fit(
    source,
    model_shapes: dict[str, tuple],
    checkpoint_shapes: dict[str, tuple],
    ignore_missing: bool = False,
    ignore_unexpected: bool = False,
) -> None:
    """Raise one :class:`CheckpointMismatch` unless the checkpoint's tensors fit the model's.

    Shapes are compared in the checkpoint's own layout; mis-shaped tensors are never ignored.
    Pre-training heads (:data:`HEAD_PREFIXES`) are optional on both sides: a head the model lacks
    is skipped, and a model's head that the checkpoint lacks entirely keeps its initial values
    (a partly present head is listed as missing).
    """
    head = [name for name in model_shapes if name.startswith(HEAD_PREFIXES)]
    head_absent = not any(name in checkpoint_shapes for name in head)
    missing = sorted(
        name
        for name in model_shapes
        if name not in checkpoint_shapes and not (head_absent and name in head)
    )
    unexpected = sorted(
        name
        for name in checkpoint_shapes
        if name not in model_shapes and not name.startswith(HEAD_PREFIXES)
    )
    misshaped = [
        f"{name} {tuple(checkpoint_shapes[name])} != {tuple(shape)}"
        for name, shape in model_shapes.items()
        if name in checkpoint_shapes and tuple(checkpoint_shapes[name]) != tuple(shape)
    ]
    if misshaped or (missing and not ignore_missing) or (unexpected and not ignore_unexpected):
        raise CheckpointMismatch(source, missing, unexpected, misshaped)


def _dense_or_norm(layer, prefix: str) -> dict[str, keras.Variable]:
    names = {"kernel": "kernel", "bias": "bias", "gamma": "gamma", "beta": "beta"}
    return {f"{prefix}/{names[v.name]}": v for v in layer.weights if v.name in names}


def google_variable_map(model: keras.Model) -> dict[str, keras.Variable]:
    """Google's names for every variable of a :class:`~keraslab.models.BertBackbone`.

    ``model`` is the backbone or a task model that keeps it as ``model.backbone`` (the
    classifier; :class:`~keraslab.models.MaskedLanguageModel`, whose head adds
    ``cls/predictions/...``).
    """
    mapping = _encoder_variable_map(getattr(model, "backbone", model))
    head = getattr(model, "head", None)
    if head is not None:
        mapping.update(
            {
                **_dense_or_norm(head.dense, "cls/predictions/transform/dense"),
                **_dense_or_norm(head.layer_norm, "cls/predictions/transform/LayerNorm"),
                "cls/predictions/output_bias": head.output_bias,
            }
        )
    return mapping


def _encoder_variable_map(backbone) -> dict[str, keras.Variable]:
    embeddings = backbone.embeddings
    mapping = {
        "bert/embeddings/word_embeddings": embeddings.word_embeddings.embeddings,
        "bert/embeddings/position_embeddings": embeddings.position_embeddings.embeddings,
        "bert/embeddings/token_type_embeddings": embeddings.token_type_embeddings.embeddings,
        **_dense_or_norm(embeddings.layer_norm, "bert/embeddings/LayerNorm"),
        **_dense_or_norm(backbone.pooler, "bert/pooler/dense"),
    }
    for index, block in enumerate(backbone.transformer_layers):
        for attributes, path in BLOCK_PATHS.items():
            sublayer = block
            for attribute in attributes:
                sublayer = getattr(sublayer, attribute)
            mapping.update(_dense_or_norm(sublayer, f"bert/encoder/layer_{index}/{path}"))
    return mapping


def hf_name(google_name: str) -> str:
    """``bert/encoder/layer_3/output/LayerNorm/gamma`` -> ``encoder.layer.3.output.LayerNorm.weight``."""
    if google_name in HF_EXCEPTIONS:
        return HF_EXCEPTIONS[google_name]
    name = re.sub(r"layer_(\d+)", r"layer.\1", google_name.removeprefix("bert/"))
    *path, leaf = name.split("/")
    if leaf in HF_LEAVES:
        return ".".join([*path, HF_LEAVES[leaf]])
    return ".".join([*path, leaf, "weight"])  # an embedding table


def is_transposed_in_hf(google_name: str) -> bool:
    """Dense kernels are (in, out) in Keras and Google checkpoints, (out, in) in torch."""
    return google_name.endswith("/kernel")
