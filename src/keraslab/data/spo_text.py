"""The sentences of triple-extraction files as raw text, for masked-LM pre-training."""

from collections.abc import Mapping
from pathlib import Path

from keraslab.data.duie import read_triples
from keraslab.data.masked_text import MaskedTextData

FILES = {"train": "train.json", "valid": "valid.json"}


class SpoTextData(MaskedTextData):
    """:class:`MaskedTextData` over DuIE files (:mod:`keraslab.data.duie`): each line's ``text``,
    its triples dropped, so an encoder can be pre-trained on the text it will extract from."""

    file_format = 'DuIE lines {"text": ..., "spo_list": [...]}'

    def __init__(self, data_dir: str, files: Mapping[str, str] = FILES, **options):
        super().__init__(data_dir, files, drop_label=False, **options)

    def read(self, path: Path) -> list[str]:
        return [sentence.text for sentence in read_triples(path, None)]
