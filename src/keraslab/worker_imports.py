"""What every sweep worker of ``hydra/launcher=forkserver`` needs whatever its backend: MLflow
and the run's entry module (which loads no Keras). :mod:`keraslab.worker_start` adds Keras with
its backend; a sweep over ``backend`` preloads this module alone."""

import mlflow  # noqa: F401

import keraslab.experiment  # noqa: F401
