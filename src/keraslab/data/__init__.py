"""Data modules: read a corpus, build what the model needs from it, and hand out encoded splits."""

from keraslab.data.code_grids import CodeGridData
from keraslab.data.encoded import EncodedSplit
from keraslab.data.images import DigitsData, ImagePatchData
from keraslab.data.masked_text import MaskedTextData
from keraslab.data.module import DataModule
from keraslab.data.sentiment import SentimentData
from keraslab.data.spo import SpoData
from keraslab.data.spo_text import SpoTextData
from keraslab.data.text_module import TextDataModule

__all__ = [
    "CodeGridData",
    "DataModule",
    "DigitsData",
    "EncodedSplit",
    "ImagePatchData",
    "MaskedTextData",
    "SentimentData",
    "SpoData",
    "SpoTextData",
    "TextDataModule",
]
