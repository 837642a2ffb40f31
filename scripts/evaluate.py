"""Score a finished run's best checkpoint on any file in its task's data format.

python scripts/evaluate.py run=outputs/runs/2026-12-02/10-00-00 split=data/sentiment/sentiment.test.data
python scripts/evaluate.py run=<run dir> split=<file> weights=raw   # the trained, not the averaged, weights
"""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("KERASLAB_ROOT", str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from keraslab.errors import InputError
    from keraslab.evaluate_run import evaluate_run
    from keraslab.quiet import import_backend

    import_backend()
    try:
        evaluate_run(cfg)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
