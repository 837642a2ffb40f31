"""Make a run reproducible: same seed and machine give the same losses."""

import keras

from keraslab.quiet import BANNERS, filtered_stderr


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend, and ask TensorFlow for deterministic kernels.

    TensorFlow's op determinism is the one backend-specific switch here; JAX is deterministic
    on CPU without one.
    """
    with filtered_stderr(BANNERS):  # Keras seeds TensorFlow too where it is installed
        keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
