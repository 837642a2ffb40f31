"""The random state a model carries besides its weights: its layers' seed generators.

Dropout draws its masks from a ``keras.random.SeedGenerator`` per layer, whose state ``[seed,
counter]`` advances every step. Keras saves weights and optimizer state in a ``.keras`` file,
not these, so a model loaded from a checkpoint starts its dropout masks over. The trainer
records them beside each checkpoint (in ``state.json``) and a resumed run puts them back, so
that a resumed run is the uninterrupted one, bit for bit.
"""

import keras

STATE_NAME = "seed_generator_state"


def seed_states(model: keras.Model) -> list:
    """Every seed generator's state variable of ``model``, in the model's own order."""
    return [v for v in model.non_trainable_variables if v.name == STATE_NAME]


def random_states(model: keras.Model) -> list[list[int]]:
    return [keras.ops.convert_to_numpy(v).tolist() for v in seed_states(model)]


def set_random_states(model: keras.Model, states: list[list[int]]) -> None:
    """Put back :func:`random_states`; the model must have as many seed generators."""
    variables = seed_states(model)
    if len(variables) != len(states):
        raise ValueError(
            f"the model has {len(variables)} seed generators, the saved state {len(states)}"
        )
    for variable, state in zip(variables, states, strict=True):
        variable.assign(keras.ops.convert_to_tensor(state, variable.dtype))
