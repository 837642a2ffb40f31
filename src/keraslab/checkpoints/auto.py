"""Any BERT checkpoint by path: a Hugging Face folder, a Google checkpoint, or a packaged name.

- HF folder: ``config.json`` + ``model.safetensors`` + ``vocab.txt``;
- Google: ``bert_config.json`` + ``bert_model.ckpt.{index,data-*}`` + ``vocab.txt`` (the folder,
  or the ``bert_model.ckpt`` prefix inside it);
- a packaged model by name, such as ``minilm``.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from keraslab.checkpoints.pretrained import pretrained_folder
from keraslab.errors import InputError

GOOGLE_CONFIG, GOOGLE_PREFIX = "bert_config.json", "bert_model.ckpt"
WEIGHTS_FILE = "model.safetensors"  # of a Hugging Face folder


@dataclass(frozen=True)
class Checkpoint:
    """Where a checkpoint's parts are, and its architecture config (Google's or HF's keys)."""

    kind: str  # "hf" or "google"
    weights: Path  # the HF folder, or the Google checkpoint prefix
    vocab: Path
    config: dict
    lowercase: bool

    def load_into(self, model, **options) -> None:
        if self.kind == "hf":
            from keraslab.checkpoints.hf import load_hf_weights

            load_hf_weights(model, self.weights, **options)
        else:
            from keraslab.checkpoints.google import load_google_checkpoint

            load_google_checkpoint(model, self.weights, **options)


def find_checkpoint(name_or_path: str) -> Checkpoint:
    """Recognise a checkpoint's format from its files; errors say what was looked for."""
    path = Path(name_or_path)
    if path.name == GOOGLE_PREFIX or path.name.endswith(".ckpt"):
        return _google(path.parent, path)
    folder = pretrained_folder(name_or_path)
    if (folder / "config.json").is_file() and (folder / WEIGHTS_FILE).is_file():
        config = json.loads((folder / "config.json").read_text())
        return Checkpoint("hf", folder, _vocab(folder), config, _hf_lowercase(folder, config))
    if (folder / GOOGLE_CONFIG).is_file():
        return _google(folder, folder / GOOGLE_PREFIX)
    raise InputError(
        f"model.encoder.checkpoint {name_or_path!r} is not a BERT checkpoint: expected a Hugging Face "
        f"folder (config.json, {WEIGHTS_FILE}, vocab.txt) or a Google one ({GOOGLE_CONFIG}, "
        f"{GOOGLE_PREFIX}.index, vocab.txt)."
    )


def _google(folder: Path, prefix: Path) -> Checkpoint:
    config_path = folder / GOOGLE_CONFIG
    if not config_path.is_file() or not Path(f"{prefix}.index").is_file():
        raise InputError(
            f"Google checkpoint {str(prefix)!r} needs {config_path} and {prefix}.index."
        )
    config = json.loads(config_path.read_text())
    # bert_config.json says nothing of casing (ours adds do_lower_case); Google names its cased
    # releases "cased_*", and the Chinese and uncased ones lower-case.
    lowercase = config.get("do_lower_case", "cased" not in folder.name or "uncased" in folder.name)
    return Checkpoint("google", prefix, _vocab(folder), config, bool(lowercase))


def _vocab(folder: Path) -> Path:
    if not (folder / "vocab.txt").is_file():
        raise InputError(f"checkpoint folder {str(folder)!r} lacks vocab.txt.")
    return folder / "vocab.txt"


def _hf_lowercase(folder: Path, config: dict) -> bool:
    tokenizer_config = folder / "tokenizer_config.json"
    if tokenizer_config.is_file():
        return bool(json.loads(tokenizer_config.read_text()).get("do_lower_case", True))
    return bool(config.get("do_lower_case", True))
