"""The word-count results as a markdown table and a plot, beside the post's published figures."""

import statistics
from pathlib import Path

from keraslab.wordcount.corpus import MB
from keraslab.wordcount.experiment import TokenizerResult

LABELS = {
    "naive": "naive: one dict",
    "batched": "batched: Counter per batch, 1 process",
    "parallel_per_batch": "parallel_apply, a Counter per batch merged in the parent",
    "parallel_sharded": "parallel_apply, a Counter per worker, one byte range each",
    "parallel_balanced": "parallel_fold, a Counter per worker, ranges handed out as they free up",
}
PLOT_LABELS = {
    "naive": "naive\n(one dict)",
    "batched": "batched\n(one process)",
    "parallel_per_batch": "parallel_apply:\nmerge per batch",
    "parallel_sharded": "parallel_apply:\nmerge per worker",
    "parallel_balanced": "parallel_fold:\nmerge per worker,\nbalanced ranges",
}
PER_WORKER = ("parallel_balanced", "parallel_sharded")  # the parallel variants that merge once
# The post (techniques.md section 9): 10 processes; seconds.
POST = {"naive": 20 * 60, "batched": 8 * 60, "parallel": 55, "workers": 10}


def markdown(results: list[TokenizerResult], workers: int) -> str:
    """A table per tokenizer, then the ratios next to the post's."""
    tables = [variant_table(result) for result in results]
    return "\n\n".join([*tables, "### Against the post", post_comparison(results, workers)])


def metrics(result: TokenizerResult) -> dict[str, float]:
    """Medians, speed-ups over naive and batched, and the size of the count, for MLflow."""
    name = result.tokenizer
    found = {
        f"tokens.{name}": result.tokens,
        f"distinct_words.{name}": result.distinct_words,
        f"counted_bytes.{name}": result.counted_bytes,
    }
    for variant, timings in result.variants.items():
        found[f"median_seconds.{name}.{variant}"] = timings.median
        for base in ("naive", "batched"):
            if base in result.variants:
                found[f"speedup_over_{base}.{name}.{variant}"] = result.speedup(variant, base)
    return found


def variant_table(result: TokenizerResult) -> str:
    """One row per variant: median and range of seconds, merge seconds, throughput, speed-ups."""
    has = set(result.variants)
    rows = [
        f"### Tokenizer `{result.tokenizer}`: {result.counted_bytes / MB:.4g} MB, "
        f"{result.tokens:,} tokens, {result.distinct_words:,} distinct words",
        "",
        "| variant | median s | range s | of which merging s | M tokens/s | vs naive | vs batched |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for variant, timings in result.variants.items():
        merge = statistics.median(timings.merge_seconds)
        cells = [
            LABELS.get(variant, variant),
            f"{timings.median:.2f}",
            f"{min(timings.seconds):.2f}–{max(timings.seconds):.2f}",
            f"{merge:.2f}",
            f"{result.tokens / timings.median / 1e6:.2f}",
            f"{result.speedup(variant, 'naive'):.2f}×" if "naive" in has else "",
            f"{result.speedup(variant, 'batched'):.2f}×" if "batched" in has else "",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    pool = statistics.median(result.pool_seconds)
    rows += ["", f"Starting and stopping the worker pool alone: {pool:.2f} s (median)."]
    return "\n".join(rows)


def post_comparison(results: list[TokenizerResult], workers: int) -> str:
    """Our naive / batched / parallel ratios next to the post's 20 min / 8 min / 55 s; parallel
    is ``parallel_balanced`` where it ran, else ``parallel_sharded``."""
    rows = [
        "| run | workers | naive / batched | batched / parallel | naive / parallel | "
        "parallel efficiency per worker |",
        "| --- | --- | --- | --- | --- | --- |",
        _ratio_row("the post", POST["workers"], POST["naive"], POST["batched"], POST["parallel"]),
    ]
    for result in results:
        parallel = next((v for v in PER_WORKER if v in result.variants), None)
        needed = ("naive", "batched", parallel)
        if set(needed) <= set(result.variants):
            naive, batched, parallel = (result.variants[name].median for name in needed)
            rows.append(_ratio_row(f"`{result.tokenizer}`", workers, naive, batched, parallel))
    return "\n".join(rows)


def _ratio_row(name: str, workers: int, naive: float, batched: float, parallel: float) -> str:
    cells = [
        name,
        str(workers),
        f"{naive / batched:.2f}",
        f"{batched / parallel:.2f}",
        f"{naive / parallel:.2f}",
        f"{batched / parallel / workers:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


def plot(results: list[TokenizerResult], path: str | Path) -> Path:
    """One panel per tokenizer: median seconds per variant (whiskers: range), the merging part
    darker, each bar labelled with its speed-up over single-process batched counting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(results), 1, figsize=(8, 0.5 + 2.6 * len(results)))
    axes = [axes] if len(results) == 1 else list(axes)
    for axis, result in zip(axes, results, strict=True):
        names = list(result.variants)
        timings = [result.variants[name] for name in names]
        medians = [t.median for t in timings]
        merges = [statistics.median(t.merge_seconds) for t in timings]
        low = [m - min(t.seconds) for m, t in zip(medians, timings, strict=True)]
        high = [max(t.seconds) - m for m, t in zip(medians, timings, strict=True)]
        rows = range(len(names))
        axis.barh(rows, medians, xerr=[low, high], color="#9ecae1", label="total")
        axis.barh(rows, merges, color="#3182bd", label="merging partial counts")
        axis.set_yticks(list(rows), [PLOT_LABELS.get(name, name) for name in names])
        axis.invert_yaxis()
        axis.set_xlabel("seconds (median; whiskers: range)")
        axis.set_title(
            f"tokenizer {result.tokenizer}: {result.counted_bytes / MB:.4g} MB, "
            f"{result.tokens / 1e6:.3g}M tokens"
        )
        if "batched" in result.variants:
            for row, name in zip(rows, names, strict=True):
                axis.annotate(
                    f"  {result.speedup(name, 'batched'):.2f}× batched",
                    (max(timings[row].seconds), row),
                    va="center",
                )
        axis.legend(loc="lower right", fontsize="small")
        axis.margins(x=0.25)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
