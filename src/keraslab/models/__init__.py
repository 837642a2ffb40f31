"""Models built from config: a BERT encoder and the heads on top of it, and a VQ-VAE."""

from keraslab.models.bert import BertBackbone, bert_options
from keraslab.models.classifier import BertClassifier, build_classifier
from keraslab.models.code_prior import CodePrior
from keraslab.models.masked_lm import MaskedLanguageModel, build_masked_lm
from keraslab.models.triples import TripleExtractor, build_triple_extractor
from keraslab.models.vector_quantizer import VectorQuantizer, VectorQuantizerEMA
from keraslab.models.vqvae import VQVAE

__all__ = [
    "VQVAE",
    "BertBackbone",
    "BertClassifier",
    "CodePrior",
    "MaskedLanguageModel",
    "TripleExtractor",
    "VectorQuantizer",
    "VectorQuantizerEMA",
    "bert_options",
    "build_classifier",
    "build_masked_lm",
    "build_triple_extractor",
]
