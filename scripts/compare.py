"""Compare the jobs of a sweep: swept values against the objective and test metrics.

python scripts/compare.py outputs/multiruns/2026-12-02/10-00-00     # a sweep folder
python scripts/compare.py ema_ablation                               # an experiment's latest sweep
python scripts/compare.py <parent run id> --tracking-uri sqlite:///outputs/mlflow.db
python scripts/compare.py ema_ablation --per-epoch valid_accuracy valid_ema_accuracy

Prints the table (best first, best marked *), writes comparison.md and comparison.png (into
--out, by default outputs/comparisons/<parent run id>) and logs both to the parent run.
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="sweep folder, parent run id or experiment name")
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get(
            "MLFLOW_TRACKING_URI", f"sqlite:///{ROOT / 'outputs' / 'mlflow.db'}"
        ),
    )
    parser.add_argument("--out", type=Path, default=None, help="folder for the Markdown and PNG")
    parser.add_argument(
        "--per-epoch",
        nargs="+",
        default=[],
        metavar="METRIC",
        help="metrics logged each epoch to show epoch by epoch, e.g. valid_accuracy train_loss",
    )
    args = parser.parse_args(argv)

    from mlflow import MlflowClient

    from keraslab.tracking.comparison import find_parent, load_comparison, publish

    client = MlflowClient(args.tracking_uri)
    try:
        comparison = load_comparison(client, find_parent(client, args.target), args.per_epoch)
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = args.out or ROOT / "outputs" / "comparisons" / comparison.parent_id
    print(comparison.text())
    for path in publish(client, comparison, out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
