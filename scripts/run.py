"""Run one experiment, or a sweep with ``-m``: compose the config with Hydra and hand it over.

python scripts/run.py                                  # the default experiment
python scripts/run.py optimizer=adamw trainer.epochs=5 # override groups and values
python scripts/run.py -m optimizer.learning_rate=1e-4,3e-4
"""

import hydra
from omegaconf import DictConfig

from keraslab.entry import run_job, set_environment

set_environment(__file__)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from keraslab.experiment import run_experiment  # here: --help and --cfg never load Keras

    return run_job(run_experiment, cfg)


if __name__ == "__main__":
    main()
