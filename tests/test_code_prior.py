"""The code prior on any backend: causal attention (a position never sees a later code), and
bits per code against a hand computation."""

import math

import keras
import numpy as np
import pytest

from keraslab.models.code_prior import CodePrior, bits_per_code


def test_no_position_sees_a_later_code():
    keras.utils.set_random_seed(0)
    model = CodePrior(
        6, 5, hidden_size=8, num_layers=2, num_heads=2, intermediate_size=16, dropout=0.0
    )
    codes = np.array([[6, 1, 2, 3, 4]], "int32")
    changed = codes.copy()
    changed[0, 3:] = [0, 5]
    before = keras.ops.convert_to_numpy(model(codes))
    after = keras.ops.convert_to_numpy(model(changed))
    np.testing.assert_allclose(before[0, :3], after[0, :3], atol=1e-6)
    assert np.abs(before[0, 3:] - after[0, 3:]).max() > 1e-4


def test_bits_per_code_is_the_cross_entropy_in_bits():
    logits = np.array([[[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]], "float32")
    labels = np.array([[0, 2]], "int32")
    p0 = math.exp(2) / (math.exp(2) + 1 + math.exp(-1))
    expected = [-math.log2(p0), math.log2(3)]
    got = keras.ops.convert_to_numpy(bits_per_code(labels, logits))
    np.testing.assert_allclose(got[0], expected, rtol=1e-5)
    assert float(np.mean(got)) == pytest.approx(np.mean(expected), rel=1e-5)
