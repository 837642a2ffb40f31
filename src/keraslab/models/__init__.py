"""Models built from config: a BERT encoder and the heads on top of it."""

from keraslab.models.bert import bert_options, build_bert
from keraslab.models.classifier import build_classifier
from keraslab.models.masked_lm import MaskedLanguageModel, build_masked_lm

__all__ = [
    "MaskedLanguageModel",
    "bert_options",
    "build_bert",
    "build_classifier",
    "build_masked_lm",
]
