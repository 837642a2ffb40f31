"""Models built from config: a BERT encoder and the heads on top of it."""

from keraslab.models.bert import bert_options, build_bert
from keraslab.models.classifier import build_classifier

__all__ = ["bert_options", "build_bert", "build_classifier"]
