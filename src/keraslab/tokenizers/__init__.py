"""Tokenizers that turn text into token ids over a vocab file."""

from keraslab.tokenizers.char import CharTokenizer
from keraslab.tokenizers.wordpiece import WordPieceTokenizer

__all__ = ["CharTokenizer", "WordPieceTokenizer"]
