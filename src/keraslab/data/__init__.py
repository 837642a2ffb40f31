"""Data modules: read a corpus, build its tokenizer, and hand out encoded arrays."""

from keraslab.data.sentiment import SentimentData

__all__ = ["SentimentData"]
