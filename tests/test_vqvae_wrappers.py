"""A VQ-VAE trains under every optimizer option, the weight-EMA and accumulation wrappers and
every loader: each run (in this process, through the run path) finishes, reconstructs the
digits better than its untrained start, and leaves the EMA codebook consistent with its
moving averages (the wrappers touch trainable weights only; the quantizer's statistics move in
training steps only)."""

import numpy as np
import pytest
from conftest import ROOT, compose_config, runs_of

from keraslab.data.images import DigitsData
from keraslab.experiment import run_experiment
from keraslab.training.trainer import Trainer

BASE = [
    "experiment=vqvae_ema",
    "data=digits",
    "model/net=tiny",
    "model.num_codes=16",
    "model.quantizer.restart_after=4",
    "trainer=debug",
    "trainer.epochs=1",
    "trainer.steps_per_epoch=12",
    "trainer.validation_steps=1",
]
VARIANTS = {
    **{
        f"optimizer={path.stem}": [f"optimizer={path.stem}"]
        for path in sorted((ROOT / "conf" / "optimizer").glob("*.yaml"))
    },
    "lazy_plain_codebook": ["optimizer=lazy_adam", "optimizer.lazy=[codebook]"],
    "weight_ema": ["optimizer.ema=0.9"],
    "accumulation": ["optimizer.accum_steps=2"],
    "loader=threads": ["loader=threads"],
    "loader=processes": ["loader=processes"],
}
# Adam's defaults move a tiny net too little in 12 steps to tell learning from noise.
FAST = {
    "optimizer=sgd": ["optimizer.learning_rate=0.3"],
    "optimizer=lamb": ["optimizer.learning_rate=0.01"],
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


@pytest.fixture(scope="module")
def test_images():
    return DigitsData().setup().gold("test")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_vqvae_trains_under_the_option(variant, store, test_images, tmp_path):
    kind = "plain" if variant == "lazy_plain_codebook" else "ema"
    speed = FAST.get(variant, ["optimizer.learning_rate=0.003"])
    overrides = [*BASE, *VARIANTS[variant], *speed, f"model.quantizer.kind={kind}"]
    cfg = compose_config(
        [*overrides, f"paths.run_dir={tmp_path / 'run'}", f"logger.tracking_uri={store}"]
    )
    run_experiment(cfg)
    run = runs_of(store, "vqvae")[1][-1]
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    untrained = float(np.mean(test_images**2))  # an untrained decoder's output is near 0
    assert metrics["test_mse"] < 0.8 * untrained, (metrics["test_mse"], untrained)
    if variant == "weight_ema":
        assert np.isfinite(metrics["test_ema_mse"])
    model = Trainer.restore(tmp_path / "run" / "checkpoints" / "last.keras")
    if variant == "accumulation":
        assert int(model.optimizer.iterations) == 6  # 12 micro-batches, 2 per update
    quantizer = model.quantizer
    if kind == "ema":  # e_k = m_k / N̂_k, as after the last training step
        counts = np.asarray(quantizer.counts)
        total = counts.sum()
        smoothed = (counts + quantizer.epsilon) / (total + 16 * quantizer.epsilon) * total
        np.testing.assert_allclose(
            np.asarray(quantizer.codebook),
            np.asarray(quantizer.sums) / smoothed[:, None],
            rtol=1e-4,
            atol=1e-6,
        )
        assert not np.allclose(counts, 1.0), "the moving averages moved"
