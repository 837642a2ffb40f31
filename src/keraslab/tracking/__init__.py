"""Experiment tracking: MLflow runs, their Keras callback, and the Hydra sweep callback.

Nothing here imports MLflow, Keras or TensorFlow at import time.
"""
