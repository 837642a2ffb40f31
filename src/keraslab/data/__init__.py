"""Data modules: read a corpus, build its tokenizer, and hand out encoded arrays."""

from keraslab.data.encoded import EncodedSplit
from keraslab.data.masked_text import MaskedTextData
from keraslab.data.sentiment import SentimentData

__all__ = ["EncodedSplit", "MaskedTextData", "SentimentData"]
