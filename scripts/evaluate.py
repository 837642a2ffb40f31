"""Score a finished run's best checkpoint on any file in its task's data format.

python scripts/evaluate.py run=outputs/runs/2026-12-02/10-00-00 split=data/sentiment/sentiment.test.data
python scripts/evaluate.py run=<run dir> split=<file> weights=raw   # the trained, not the averaged, weights
"""

import hydra
from omegaconf import DictConfig

from keraslab.entry import run_job, set_environment

set_environment(__file__)


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from keraslab.evaluate_run import evaluate_run  # here: --help never loads Keras

    run_job(evaluate_run, cfg)


if __name__ == "__main__":
    main()
