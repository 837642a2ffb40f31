"""The word-count reproduction: a deterministic corpus of the requested size, sampled by word
frequency; all four counting variants give exactly the same counts as a plain reference; the
script logs timings, ratios, a table and a plot to MLflow."""

import os
import subprocess
import sys
from collections import Counter

import pytest
from conftest import ROOT, runs_of

from keraslab.errors import ConfigError, DataError
from keraslab.wordcount.corpus import MB, build_corpus, read_frequency_list
from keraslab.wordcount.counting import (
    VARIANTS,
    count_words,
    parallel_balanced,
    read_batches,
    shard_bounds,
)
from keraslab.wordcount.experiment import check_options, check_same_counts, time_variants
from keraslab.wordcount.tokenizers import JiebaTokenizer, SeparatorTokenizer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("wordcount") / "corpus.txt", 0.05, seed=3)


def reference_counts(path, tokenize, end=None) -> Counter:
    """Counted the plainest way: every line that begins before ``end``."""
    counts, position = Counter(), 0
    with open(path, "rb") as lines:
        for line in lines:
            if end is not None and position >= end:
                break
            position += len(line)
            counts.update(tokenize(line.decode("utf-8").rstrip("\n")))
    return counts


@pytest.mark.timeout(120)
@pytest.mark.parametrize("tokenize", [SeparatorTokenizer(), JiebaTokenizer()], ids=["sep", "jieba"])
def test_every_variant_gives_exactly_the_reference_counts(corpus, tokenize):
    expected = reference_counts(corpus, tokenize)
    assert sum(expected.values()) > 5000 and len(expected) > 1000
    for variant in VARIANTS:
        counted = count_words(variant, corpus, tokenize, batch_size=50, workers=2)
        assert dict(counted.counts) == dict(expected), variant


@pytest.mark.timeout(60)
def test_variants_agree_on_a_prefix_of_the_corpus(corpus):
    end = corpus.stat().st_size // 3
    expected = reference_counts(corpus, SeparatorTokenizer(), end)
    result = time_variants(corpus, "separator", VARIANTS, repeats=1, batch_size=40, end=end)
    assert result.tokens == sum(expected.values()) and result.distinct_words == len(expected)
    assert result.counted_bytes == end
    assert set(result.variants) == set(VARIANTS)
    assert all(len(timings.seconds) == 1 for timings in result.variants.values())


@pytest.mark.timeout(60)
def test_balanced_ranges_count_exactly_the_reference(corpus):
    expected = reference_counts(corpus, SeparatorTokenizer())
    counted = parallel_balanced(corpus, SeparatorTokenizer(), 7, workers=2, range_bytes=997)
    assert corpus.stat().st_size > 40 * 997  # dozens of ranges, each at a line start
    assert dict(counted.counts) == dict(expected)


def test_a_count_mismatch_names_the_word():
    with pytest.raises(RuntimeError, match=r"naive counted 2 x '的', batched counted 1"):
        check_same_counts("naive", {"了": 1, "的": 2}, "batched", {"了": 1, "的": 1})
    check_same_counts("naive", {"的": 2}, "batched", Counter({"的": 2}))


def test_shards_cover_every_line_once(corpus):
    lines = [line for batch in read_batches(corpus, 100) for line in batch]
    for shards in (1, 2, 3, 7, len(lines) + 5):
        bounds = shard_bounds(corpus, shards)
        assert len(bounds) == shards and bounds[0][0] == 0
        assert bounds[-1][1] == corpus.stat().st_size
        sharded = [line for b in bounds for batch in read_batches(corpus, 9, *b) for line in batch]
        assert sharded == lines


def test_corpus_is_deterministic_by_seed_and_hits_the_size(tmp_path):
    first = build_corpus(tmp_path / "a.txt", 0.02, seed=1).read_bytes()
    again = build_corpus(tmp_path / "b.txt", 0.02, seed=1).read_bytes()
    other = build_corpus(tmp_path / "c.txt", 0.02, seed=2).read_bytes()
    larger = build_corpus(tmp_path / "d.txt", 0.05, seed=1).read_bytes()
    assert first == again and first != other
    assert larger.startswith(first)
    for data, size_mb in ((first, 0.02), (larger, 0.05)):
        last_line = data[:-1].rsplit(b"\n", 1)[-1] + b"\n"
        assert size_mb * MB <= len(data) < size_mb * MB + len(last_line)
        assert data.endswith(b"\n")


def test_an_existing_corpus_is_reused(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("已有 的 文本\n", encoding="utf-8")
    assert build_corpus(path, 1, seed=0).read_text(encoding="utf-8") == "已有 的 文本\n"


def test_words_are_drawn_in_proportion_to_frequency(tmp_path):
    frequencies = tmp_path / "dict.txt"
    frequencies.write_text("甲 1 n\n乙 3 n\n\n丙 0\n", encoding="utf-8")
    path = build_corpus(tmp_path / "corpus.txt", 0.1, 0, frequencies, (5, 10))
    counts = reference_counts(path, SeparatorTokenizer())
    assert set(counts) == {"甲", "乙"}
    assert counts["乙"] / counts["甲"] == pytest.approx(3, rel=0.05)
    lengths = [len(line.split(" ")) for batch in read_batches(path, 100) for line in batch]
    assert min(lengths) == 5 and max(lengths) == 10


def test_a_malformed_frequency_list_names_file_and_line(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("甲 1 n\n乙 many n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dict.txt:2: expected WORD FREQUENCY \[TAG\]"):
        read_frequency_list(path)


def test_jieba_frequency_list_is_the_bundled_one():
    from keraslab.wordcount.corpus import jieba_dictionary

    words, frequencies = read_frequency_list(jieba_dictionary())
    assert len(words) > 340_000 and frequencies.min() >= 0 and "的" in words


def test_bad_options_are_named():
    good = {"separator": {"mb": None, "repeats": 1}}
    check_options(1, good, ["naive"], workers=2)
    with pytest.raises(ConfigError, match=r"corpus.size_mb must be a number > 0, got 0"):
        check_options(0, good, ["naive"])
    with pytest.raises(ConfigError, match=r"tokenizers must map some of \['jieba', 'separator'\]"):
        check_options(1, {"spaces": {"mb": None, "repeats": 1}}, ["naive"])
    with pytest.raises(ConfigError, match=r"tokenizers.jieba.mb must be null or a number > 0"):
        check_options(1, {"jieba": {"mb": -1, "repeats": 1}}, ["naive"])
    with pytest.raises(ConfigError, match=r"tokenizers.jieba.repeats must be an integer >= 1"):
        check_options(1, {"jieba": {"mb": None, "repeats": 0}}, ["naive"])
    with pytest.raises(ConfigError, match=r"variants must be a list of some of"):
        check_options(1, good, ["fast"])
    with pytest.raises(ConfigError, match=r"workers must be an integer >= 1, got 0"):
        check_options(1, good, ["naive"], workers=0)


@pytest.mark.timeout(300)
def test_the_script_logs_timings_ratios_table_and_plot(tmp_path, tracking_uri):
    overrides = [
        "corpus.size_mb=0.05",
        f"corpus.dir={tmp_path / 'data'}",
        "tokenizers.separator.repeats=2",
        "tokenizers.jieba.mb=0.01",
        "tokenizers.jieba.repeats=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        f"paths.output_dir={tmp_path / 'outputs'}",
        f"report_dir={tmp_path / 'report'}",
    ]
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "wordcount.py"), *overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "### Against the post" in result.stdout
    client, runs = runs_of(tracking_uri, "wordcount")
    (run,) = runs
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    for tokenizer in ("separator", "jieba"):
        for variant in VARIANTS:
            assert metrics[f"median_seconds.{tokenizer}.{variant}"] > 0
            assert metrics[f"speedup_over_batched.{tokenizer}.{variant}"] > 0
        assert metrics[f"tokens.{tokenizer}"] > 0
    assert metrics["counted_bytes.jieba"] == 10_000
    history = client.get_metric_history(run.info.run_id, "seconds.separator.naive")
    assert [point.step for point in history] == [0, 1]
    assert run.data.params["corpus.size_mb"] == "0.05"
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
    assert {"wordcount.png", "wordcount.md"} <= artifacts
    assert (tmp_path / "report" / "wordcount.png").stat().st_size > 10_000
