"""Tokenizers that turn text into token ids over a vocab file."""

from keraslab.tokenizers.char import CharTokenizer

__all__ = ["CharTokenizer"]
