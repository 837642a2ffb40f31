"""Write a trained model's encoder (and MLM head, if any) as a checkpoint folder.

The folder is what :func:`~keraslab.checkpoints.auto.find_checkpoint` reads, so
``model.encoder.checkpoint=<folder>`` fine-tunes from it, with the same vocab and casing:

- ``google``: ``bert_config.json``, ``bert_model.ckpt.{index,data-*}``, ``vocab.txt``;
- ``hf``: ``config.json``, ``model.safetensors``, ``vocab.txt``.
"""

import json
from pathlib import Path

import keras

from keraslab.checkpoints.hf import save_hf_weights
from keraslab.errors import ConfigError
from keraslab.models.bert import bert_config_json
from keraslab.tokenizers import WordPieceTokenizer

FORMATS = ("google", "hf")


def export_checkpoint(
    model: keras.Model, tokenizer: WordPieceTokenizer, folder: str | Path, format: str
) -> Path:
    """Write ``model`` (a :class:`~keraslab.models.BertBackbone` or a task model holding one as
    ``.backbone``: the classifier, the masked LM) and its vocab to ``folder``."""
    if format not in FORMATS:
        raise ConfigError(f"export must be one of {', '.join(FORMATS)} or null, got {format!r}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = bert_config_json(getattr(model, "backbone", model).architecture, tokenizer.lowercase)
    if format == "google":
        from keraslab.checkpoints.google import save_google_checkpoint

        (folder / "bert_config.json").write_text(json.dumps(config, indent=2))
        save_google_checkpoint(model, folder / "bert_model.ckpt")
    else:
        save_hf_weights(model, folder, config)
    tokenizer.save(folder / "vocab.txt")
    return folder
