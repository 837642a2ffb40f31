"""Word counting: a naive loop, batched counting and parallel_apply (techniques.md section 9).

Runs ``scripts/wordcount.py`` (conf/wordcount.yaml: a 250 MB corpus sampled from jieba's word
frequencies; the separator tokenizer over all of it, 5 interleaved rounds; jieba over its first
100 MB, 3 rounds; 2 workers), which logs the run to MLflow, then writes its table and plot with
the machine and the command to ``benchmarks/results/wordcount.{md,png}``.

    python benchmarks/wordcount.py                  # the full run (57 min on 2 idle cores)
    python benchmarks/wordcount.py --quick          # 5 MB, one round: checks the pipeline; its
                                                    # results go to outputs/benchmarks/, not results/
    python benchmarks/wordcount.py workers=4        # any scripts/wordcount.py override
"""

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
QUICK = [
    "corpus.size_mb=5",
    "tokenizers.separator.repeats=1",
    "tokenizers.jieba.mb=0.5",
    "tokenizers.jieba.repeats=1",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 5 MB corpus, one round each")
    parser.add_argument("overrides", nargs="*", help="scripts/wordcount.py overrides")
    args = parser.parse_args()
    folder = ROOT / ("outputs/benchmarks" if args.quick else "benchmarks/results")
    overrides = [*(QUICK if args.quick else []), *args.overrides, f"report_dir={folder}"]
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "wordcount.py"), *overrides], cwd=ROOT, check=True
    )
    report = folder / "wordcount.md"
    header = [
        "# Word counting: naive loop, batched, parallel_apply",
        "",
        f"Machine: {describe()}. Command: `{' '.join(['python', *sys.argv])}`. Times cover the "
        "whole count: reading the corpus, tokenizing, counting, merging, and for parallel_apply "
        "starting and stopping its worker processes. Plot: `wordcount.png`.",
        "",
    ]
    report.write_text("\n".join(header) + report.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"written to {report}")


if __name__ == "__main__":
    main()
