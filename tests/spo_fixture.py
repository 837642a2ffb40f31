"""A small synthetic triple corpus in the DuIE format, for tests that train or read one."""

import json
import random
from pathlib import Path

PREDICATES = ("出生地", "毕业院校", "作者", "国籍")
PEOPLE = ["王小明", "李华", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "孙丽"]
PLACES = ["北京", "上海", "成都", "西安", "杭州"]
SCHOOLS = ["清华大学", "南京大学", "复旦大学"]
NATIONS = ["中国", "法国", "巴西"]
BOOKS = ["远山", "长河", "星海", "晨风"]


def sentence(rng: random.Random) -> dict:
    """One sentence and its triples: a person with one to three objects, or a book whose author
    is also the subject of a birthplace (an entity that is object and subject)."""
    person, place = rng.choice(PEOPLE), rng.choice(PLACES)
    school, nation, book = rng.choice(SCHOOLS), rng.choice(NATIONS), rng.choice(BOOKS)
    kind = rng.randrange(4)
    if kind == 0:
        text, spo = f"{person}出生于{place}。", [(person, "出生地", place)]
    elif kind == 1:
        text = f"{person}，{nation}人，毕业于{school}。"
        spo = [(person, "国籍", nation), (person, "毕业院校", school)]
    elif kind == 2:
        text = f"《{book}》是{person}写的小说，{person}出生于{place}。"
        spo = [(book, "作者", person), (person, "出生地", place)]
    else:
        text, spo = f"今天{place}的天气很好。", []
    return {
        "text": text,
        "spo_list": [
            {"subject": s, "predicate": p, "object": o, "subject_type": "x", "object_type": "y"}
            for s, p, o in spo
        ],
    }


def write_spo(folder: Path, sizes: dict[str, int], seed: int = 0) -> Path:
    """``all_schemas.json`` and one ``<split>.json`` per entry of ``sizes`` in ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    schema = [{"predicate": p, "subject_type": "x", "object_type": "y"} for p in PREDICATES]
    write_lines(folder / "all_schemas.json", schema)
    for split, size in sizes.items():
        write_lines(folder / f"{split}.json", [sentence(rng) for _ in range(size)])
    return folder


def write_lines(path: Path, records: list) -> None:
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
