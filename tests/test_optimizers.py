"""The optimizer factory: base choice, wrapper toggles, and update counting."""

import keras
import numpy as np

from keraslab.optimizers import build_optimizer, update_count


def test_toggles_reach_the_base_optimizer():
    plain = build_optimizer("sgd", 0.1, hyperparameters={"momentum": 0.5})
    assert isinstance(plain, keras.optimizers.SGD) and plain.momentum == 0.5
    assert not plain.use_ema and plain.gradient_accumulation_steps is None
    wrapped = build_optimizer(
        "adamw", 1e-3, ema=0.99, accum_steps=4, hyperparameters={"weight_decay": 0.1}
    )
    assert isinstance(wrapped, keras.optimizers.AdamW) and wrapped.weight_decay == 0.1
    assert wrapped.use_ema and wrapped.ema_momentum == 0.99
    assert wrapped.gradient_accumulation_steps == 4


def test_sgd_step_matches_hand_computation():
    variable = keras.Variable(np.array([1.0, -2.0], dtype="float32"))
    optimizer = build_optimizer("sgd", 0.1, hyperparameters={"momentum": 0.0})
    optimizer.apply([keras.ops.convert_to_tensor([0.5, 1.0])], [variable])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), [0.95, -2.1], rtol=1e-6)


def test_update_count_counts_real_updates_under_accumulation():
    variable = keras.Variable(np.zeros(2, dtype="float32"))
    optimizer = build_optimizer("sgd", 0.1, accum_steps=3, hyperparameters={"momentum": 0.0})
    gradient = keras.ops.ones(2)
    for _ in range(7):
        optimizer.apply([gradient], [variable])
    assert update_count(optimizer) == 2
    # two real updates of the mean gradient (1.0) at lr 0.1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), [-0.2, -0.2], rtol=1e-6)
