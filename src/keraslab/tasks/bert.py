"""The base of tasks on a BERT encoder: the encoder's config, tokenizer, checks and export."""

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from omegaconf import DictConfig, OmegaConf

from keraslab.config_checks import Check, integer, number, optional, string
from keraslab.tasks.task import Task

ENCODER_CHECKS = {
    "encoder.checkpoint": optional(string),
    "encoder.num_layers": integer(1),
    "encoder.hidden_size": integer(1),
    "encoder.num_heads": integer(1),
    "encoder.intermediate_size": integer(1),
    "encoder.max_positions": integer(1),
    "encoder.dropout": number(0.0, 1.0, high_inclusive=False),
}


class BertTask(Task):
    """A task whose model holds a :class:`~keraslab.models.BertBackbone` as ``.backbone``.

    ``encoder`` is the ``model/encoder`` config: :class:`~keraslab.models.BertBackbone` options,
    or a ``checkpoint`` whose architecture, weights and vocab the model takes. The data is
    tokenized with that checkpoint's vocab, or else with a character vocab built from the
    training text. The default loss and metric suit a model that picks one class per example or
    per position: sparse cross-entropy on logits and accuracy, both weighted by the batches'
    sample weights when they have them (``sum(w * ce) / sum(w)``; the plain mean without).
    """

    monitor = "val_accuracy"
    metric_modes: ClassVar[dict[str, str]] = {"loss": "min", "accuracy": "max"}
    export_formats = ("google", "hf")
    config_checks: ClassVar[dict[str, Check]] = ENCODER_CHECKS

    def __init__(self, encoder: Mapping):
        self.encoder = (
            OmegaConf.to_container(encoder, resolve=True)
            if isinstance(encoder, DictConfig)
            else dict(encoder)
        )

    @staticmethod
    def config_problems(cfg: DictConfig) -> list[str]:
        """The encoder's width must split into its heads, and its positions hold ``data.maxlen``."""
        problems = []
        encoder = cfg.model.get("encoder", {})
        hidden, heads = encoder.get("hidden_size"), encoder.get("num_heads")
        if isinstance(hidden, int) and isinstance(heads, int) and heads > 0 and hidden % heads:
            problems.append(
                f"model.encoder.hidden_size ({hidden}) must be a multiple of model.encoder.num_heads ({heads})"
            )
        maxlen, positions = cfg.get("data", {}).get("maxlen"), encoder.get("max_positions")
        if isinstance(maxlen, int) and isinstance(positions, int) and positions < maxlen:
            problems.append(
                f"model.encoder.max_positions ({positions}) must be >= data.maxlen ({maxlen})"
            )
        checkpoint = encoder.get("checkpoint")
        if isinstance(checkpoint, str) and checkpoint and isinstance(maxlen, int):
            problems += _checkpoint_problems(checkpoint, maxlen)
        return problems

    def data_options(self) -> dict:
        from keraslab.tokenizers.for_encoder import tokenizer_for_encoder

        return {"tokenizer": tokenizer_for_encoder(self.encoder)}

    def compile(self, model, optimizer, jit_compile: bool | str = "auto") -> None:
        import keras

        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
            ),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=jit_compile,
        )

    def export(self, model, data, folder: Path, format: str) -> Path:
        """The encoder (and a masked-LM head) as a Google or HF checkpoint folder with the vocab,
        which ``model.encoder.checkpoint=<folder>`` fine-tunes from."""
        from keraslab.checkpoints.export import export_checkpoint

        return export_checkpoint(model, data.tokenizer, folder, format)


def _checkpoint_problems(checkpoint: str, maxlen: int) -> list[str]:
    """The checkpoint must exist and hold ``maxlen`` positions."""
    from keraslab.checkpoints.auto import find_checkpoint
    from keraslab.errors import InputError

    try:
        found = find_checkpoint(checkpoint)
    except InputError as error:
        return [str(error).rstrip(".")]
    positions = found.config.get("max_position_embeddings", found.config.get("max_positions"))
    if isinstance(positions, int) and positions < maxlen:
        return [
            f"data.maxlen ({maxlen}) must be <= the {positions} positions of "
            f"model.encoder.checkpoint {checkpoint!r}"
        ]
    return []
