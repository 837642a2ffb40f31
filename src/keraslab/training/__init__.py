"""Training: the Trainer that fits a model, and seeding."""

from keraslab.training.trainer import Trainer

__all__ = ["Trainer"]
