"""Reading and writing BERT checkpoints: Google TF checkpoints and Hugging Face safetensors folders.

The Google format needs TensorFlow: import it from :mod:`keraslab.checkpoints.google`.
"""

from keraslab.checkpoints.hf import load_hf_weights, save_hf_weights
from keraslab.checkpoints.names import CheckpointMismatch, google_variable_map, hf_name

__all__ = [
    "CheckpointMismatch",
    "google_variable_map",
    "hf_name",
    "load_hf_weights",
    "save_hf_weights",
]
