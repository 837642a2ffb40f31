"""Reading and writing BERT checkpoints: Google TF checkpoints and Hugging Face safetensors folders.

The Google format needs TensorFlow: import it from :mod:`keraslab.checkpoints.google`. The names
below load their modules (and Keras) when first used, so that finding a checkpoint
(:mod:`keraslab.checkpoints.auto`) stays light enough for the config checks.
"""

import importlib

# name -> the module that defines it
HOMES = {
    "CheckpointMismatch": "names",
    "google_variable_map": "names",
    "hf_name": "names",
    "load_hf_weights": "hf",
    "save_hf_weights": "hf",
}
__all__ = sorted(HOMES)


def __getattr__(name: str):
    if name not in HOMES:
        raise AttributeError(f"module 'keraslab.checkpoints' has no attribute {name!r}")
    return getattr(importlib.import_module(f"keraslab.checkpoints.{HOMES[name]}"), name)
