"""Training: the Trainer that fits a model, seeding, and batch loaders."""

from keraslab.training.loaders import ArrayBatches
from keraslab.training.trainer import Trainer

__all__ = ["ArrayBatches", "Trainer"]
