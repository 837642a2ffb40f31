"""Reading the LIC2019 / DuIE triple format, with errors that point at the file and line.

A data file holds one JSON object a line, ``{"text": ..., "spo_list": [{"subject": ...,
"predicate": ..., "object": ...}, ...]}``; other fields (``postag``, ``subject_type``, ...) are
ignored, and an empty ``spo_list`` is a sentence without triples. DuIE 2.0's object form
``{"@value": ...}`` reads as its value. The schema file holds one ``{"predicate": ...}`` a line.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from keraslab.data.texts import shorten, text_lines
from keraslab.errors import DataError

LINE_FORMAT = '{"text": str, "spo_list": [{"subject": str, "predicate": str, "object": str}]}'


@dataclass(frozen=True)
class TripleSentence:
    """A sentence and its gold ``(subject, predicate, object)`` triples, in file order."""

    text: str
    triples: tuple[tuple[str, str, str], ...]


def read_schema(path: Path) -> list[str]:
    """The predicates of an ``all_schemas.json``, in file order (each once)."""
    predicates = []
    for number, line in text_lines(path):
        if not line.strip():
            continue
        record = _json(path, number, line, '{"predicate": str, ...}')
        predicate = record.get("predicate") if isinstance(record, dict) else None
        if not isinstance(predicate, str) or not predicate:
            raise DataError(
                f'{path}:{number}: expected a schema line {{"predicate": str, ...}}, got '
                f"{shorten(line, 120)!r}."
            )
        if predicate not in predicates:
            predicates.append(predicate)
    if not predicates:
        raise DataError(f'{path} names no predicate; expected lines {{"predicate": str, ...}}.')
    return predicates


def read_triples(path: Path, predicates: list[str] | None) -> list[TripleSentence]:
    """Every sentence of a DuIE file; each predicate must be one of ``predicates`` (any, when
    None: the text alone is wanted)."""
    known = None if predicates is None else set(predicates)
    sentences = []
    for number, line in text_lines(path):
        if not line.strip():
            continue
        record = _json(path, number, line, LINE_FORMAT)
        text = record.get("text") if isinstance(record, dict) else None
        spo_list = record.get("spo_list") if isinstance(record, dict) else None
        if not isinstance(text, str) or not isinstance(spo_list, list):
            raise DataError(
                f"{path}:{number}: expected a line {LINE_FORMAT}, got {shorten(line, 120)!r}."
            )
        triples = tuple(_triple(path, number, item, known) for item in spo_list)
        sentences.append(TripleSentence(text, triples))
    return sentences


def _triple(path: Path, number: int, item, known: set[str] | None) -> tuple[str, str, str]:
    if isinstance(item, dict) and isinstance(item.get("object"), dict):
        item = {**item, "object": item["object"].get("@value")}
    parts = [
        item.get(key) if isinstance(item, dict) else None
        for key in ("subject", "predicate", "object")
    ]
    if not all(isinstance(part, str) and part for part in parts):
        raise DataError(
            f"{path}:{number}: expected every spo_list item to be "
            f'{{"subject": str, "predicate": str, "object": str}} with non-empty strings, got '
            f"{shorten(json.dumps(item, ensure_ascii=False), 120)!r}."
        )
    if known is not None and parts[1] not in known:
        raise DataError(
            f"{path}:{number}: predicate {parts[1]!r} is not in the schema; expected one of "
            f"{', '.join(sorted(known))} (data.schema_file)."
        )
    return tuple(parts)


def _json(path: Path, number: int, line: str, expected: str):
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}:{number}: not JSON ({error.msg} at column {error.colno}); expected a line "
            f"{expected}."
        ) from None
