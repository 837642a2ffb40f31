"""Count the words of a large Chinese corpus four ways, time them, and log the result to MLflow.

python scripts/wordcount.py                          # conf/wordcount.yaml: 250 MB, both tokenizers
python scripts/wordcount.py corpus.size_mb=5 tokenizers.jieba.mb=1 tokenizers.separator.repeats=1
python scripts/wordcount.py 'tokenizers={separator: {mb: null, repeats: 3}}' workers=4

The corpus is generated once into data/wordcount/. Each tokenizer's variants run in interleaved
rounds; every variant's counts must equal the first's. The run logs every timing, the medians and
speed-ups, and a table (wordcount.md) and plot (wordcount.png) as artifacts.
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KERASLAB_ROOT", str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(cfg) -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from keraslab.tracking.hydra_job import current_job
    from keraslab.wordcount.corpus import MB, build_corpus, corpus_name
    from keraslab.wordcount.experiment import check_options, time_variants
    from keraslab.wordcount.report import markdown, metrics, plot

    corpus = cfg.corpus
    check_options(
        corpus.size_mb,
        cfg.tokenizers,
        list(cfg.variants),
        workers=cfg.workers,
        batch_size=cfg.batch_size,
        max_queue_size=cfg.max_queue_size,
    )
    options = (corpus.size_mb, corpus.seed, corpus.frequency_list, tuple(corpus.words_per_text))
    path = build_corpus(Path(corpus.dir) / corpus_name(*options), *options)
    run_dir = current_job().output_dir or Path(cfg.paths.output_dir)
    tracker = instantiate(cfg.logger)
    with tracker.run(OmegaConf.to_container(cfg, resolve=True)):
        tracker.log_params({"corpus.path": str(path), "corpus.bytes": str(path.stat().st_size)})

        def log_timing(tokenizer, variant, repeat, seconds, merge_seconds):
            timing = {f"seconds.{tokenizer}.{variant}": seconds}
            timing[f"merge_seconds.{tokenizer}.{variant}"] = merge_seconds
            tracker.log_metrics(timing, step=repeat)

        results = []
        for name, settings in cfg.tokenizers.items():
            end = None if settings.mb is None else int(settings.mb * MB)
            result = time_variants(
                path,
                name,
                list(cfg.variants),
                settings.repeats,
                cfg.batch_size,
                cfg.workers,
                cfg.max_queue_size,
                end,
                log_timing,
            )
            tracker.log_metrics(metrics(result), step=0)
            results.append(result)
        report = markdown(results, cfg.workers)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "wordcount.md").write_text(report + "\n", encoding="utf-8")
        plot(results, run_dir / "wordcount.png")
        for name in ("wordcount.md", "wordcount.png"):
            tracker.log_artifact(run_dir / name)
            if cfg.report_dir:
                Path(cfg.report_dir).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run_dir / name, Path(cfg.report_dir) / name)
    print(report)


def main() -> None:
    # Hydra is imported here, not at the top: worker processes started with spawn re-import this
    # file, and should not pay for Hydra in the timings.
    import hydra

    from keraslab.errors import InputError

    @hydra.main(version_base="1.3", config_path="../conf", config_name="wordcount")
    def entry(cfg) -> None:
        try:
            run(cfg)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    entry()


if __name__ == "__main__":
    main()
