"""Models built from config: a BERT-style encoder and the heads on top of it."""

from keraslab.models.classifier import build_classifier
from keraslab.models.encoder import build_encoder

__all__ = ["build_classifier", "build_encoder"]
