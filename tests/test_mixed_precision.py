"""``trainer.precision``: mixed_bfloat16 follows float32 on the same batches from the same
weights, and mixed_float16 (Keras's dynamic loss scaling around the optimizer) trains a full run
with EMA and accumulation, their state in float32 and in its checkpoints."""

import warnings

import numpy as np
import pytest
from conftest import DEBUG, finished_runs, trajectory, write_corpus

WRAPPERS = ["optimizer.ema=0.9", "optimizer.accum_steps=2"]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_bfloat16_training_follows_float32(backend, tmp_path):
    """The default model, dropout off, 20 micro-batches (10 updates) with EMA and accumulation:
    each bfloat16 loss within 0.02 of float32's (bfloat16 keeps 8 bits of mantissa, so they do
    differ, by a few thousandths here)."""
    corpus = write_corpus(tmp_path / "data", {"train": 1300, "valid": 64, "test": 64})
    initial = tmp_path / "initial.npz"
    full, half = (
        trajectory(
            backend, corpus, initial, tmp_path / f"{p}.npz", f"trainer.precision={p}", *WRAPPERS
        )
        for p in ("float32", "mixed_bfloat16")
    )
    difference = np.abs(half["losses"] - full["losses"])
    assert difference.max() <= 0.02, difference
    assert difference.max() > 1e-4  # the bfloat16 run computed in bfloat16


def test_float16_run_scales_the_loss_and_keeps_wrapper_state_in_float32(
    corpus, tracking_uri, tmp_path
):
    client, (run,) = finished_runs(
        [
            *DEBUG,
            "trainer.precision=mixed_float16",
            *WRAPPERS,
            f"data.data_dir={corpus}",
            f"hydra.run.dir={tmp_path}/run",
        ],
        tracking_uri,
    )
    assert run.info.status == "FINISHED" and run.data.params["trainer.precision"] == "mixed_float16"
    losses = [m.value for m in client.get_metric_history(run.info.run_id, "loss")]
    assert losses and np.isfinite(losses).all()
    assert 0.0 < run.data.metrics["best_valid_ema_accuracy"] <= 1.0

    import keras

    from keraslab.optimizers import ExponentialMovingAverage, GradientAccumulation, find_wrapper
    from keraslab.training import Trainer

    keras.config.set_dtype_policy("mixed_float16")  # as a resumed run sets it before loading
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = Trainer.restore(tmp_path / "run" / "checkpoints" / "last.keras")
        assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        ema = find_wrapper(model.optimizer, ExponentialMovingAverage)
        assert find_wrapper(model.optimizer, GradientAccumulation) is not None
        assert ema.shadows and {v.dtype for v in ema.shadows} == {"float32"}
        floats = {v.dtype for v in model.optimizer.variables if "float" in v.dtype}
        assert floats == {"float32"}  # accumulators, Adam's moments, the loss scale
        assert {w.dtype for w in model.weights} == {"float32"}
        assert {layer.compute_dtype for layer in model.layers if layer.weights} == {"float16"}
        assert 0 < int(model.optimizer.iterations) <= 6  # 12 micro-batches; overflows skip some
    finally:
        keras.config.set_dtype_policy("float32")
    # For inference only (a prior's code grids, the attention maps) under another precision:
    # the model computes in the caller's on the run's float32 weights, and the optimizer, which
    # float32 would rebuild as a plain Adam and whose state Keras would skip with a warning, is
    # not read at all.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inference = Trainer.restore(tmp_path / "run" / "checkpoints" / "last.keras", compile=False)
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)], caught
    assert getattr(inference, "optimizer", None) is None
    assert {layer.compute_dtype for layer in inference.layers if layer.weights} == {"float32"}
    for ours, theirs in zip(inference.weights, model.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
