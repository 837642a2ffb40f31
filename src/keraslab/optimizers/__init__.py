"""Optimizers built from the ``optimizer`` config group."""

from keraslab.optimizers.factory import BASE_OPTIMIZERS, build_optimizer, update_count

__all__ = ["BASE_OPTIMIZERS", "build_optimizer", "update_count"]
