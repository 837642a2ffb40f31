"""keraslab: Hydra-composed Keras 3 experiments tracked in MLflow.

Importing the package is cheap: nothing here imports Keras or TensorFlow, so composing
configs (``scripts/run.py --help``, ``--cfg job``) stays fast.
"""

__version__ = "0.1.0"
