"""Run one experiment, or a sweep with ``-m``: compose the config with Hydra and hand it over.

python scripts/run.py                                  # the default experiment
python scripts/run.py optimizer=adamw trainer.epochs=5 # override groups and values
python scripts/run.py -m optimizer.learning_rate=1e-4,3e-4
"""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("KERASLAB_ROOT", str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    # Imported here so that --help and --cfg never load Keras or TensorFlow.
    from keraslab.errors import InputError
    from keraslab.experiment import run_experiment
    from keraslab.quiet import import_backend
    from keraslab.tracking.hydra_job import current_job

    import_backend()

    try:
        return run_experiment(cfg)
    except InputError as error:
        if current_job().is_multirun:
            raise  # Hydra records the failed job and goes on with the others
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
