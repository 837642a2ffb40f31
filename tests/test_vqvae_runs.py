"""``experiment=vqvae_ema`` end to end at debug size: tracked, resumed in the same MLflow run,
with every reconstruction and code metric each epoch and on the test split, a reconstruction
grid each epoch and the codebook-usage histogram; then ``experiment=vqvae_prior`` over its codes,
tracked, with its decoded samples."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import run_script, runs_of
from mlflow import MlflowClient

from keraslab.data.images import ImagePatchData
from keraslab.tasks.vqvae import code_usage
from keraslab.training.trainer import Trainer

ARGS = [
    "experiment=vqvae_ema",
    "trainer=debug",
    "model/net=tiny",
    "model.num_codes=16",
    "model.quantizer.restart_after=3",
    "data.photos.train=[coffee]",
    "data.batch_size=16",
]
METRICS = ("mse", "mse_variance", "psnr", "perplexity", "codes_used", "dead_codes")


@pytest.fixture(scope="module")
def vqvae_run(tmp_path_factory):
    """One epoch, then resumed to two: the run folder and the store."""
    tmp_path = tmp_path_factory.mktemp("vqvae")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    run_dir = tmp_path / "run"
    first = run_script([*ARGS, "trainer.epochs=1", f"hydra.run.dir={run_dir}"], store)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_script(
        [*ARGS, "trainer.epochs=2", f"resume={run_dir}", f"hydra.run.dir={tmp_path / 'x'}"], store
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return run_dir, store


def test_a_vqvae_run_trains_resumes_and_reports_code_statistics(vqvae_run):
    run_dir, store = vqvae_run
    client, (run,) = runs_of(store, "vqvae")
    assert run.info.status == "FINISHED"
    for name in METRICS:
        assert len(client.get_metric_history(run.info.run_id, f"valid_{name}")) == 2, name
        assert f"test_{name}" in run.data.metrics, name
    metrics = run.data.metrics
    assert 0 < metrics["test_codes_used"] <= 1 and metrics["test_perplexity"] >= 1
    assert metrics["test_dead_codes"] == round(16 * (1 - metrics["test_codes_used"]))
    scored = Trainer.restore(run_dir / "checkpoints" / "best.keras")
    photos = {"train": ["coffee"], "valid": ["chelsea"], "test": ["flower"]}
    train = ImagePatchData(photos).setup().gold("train")
    usage = code_usage(scored.encode(train), 16)
    for name, value in usage.items():  # the codes of every train image, without an update
        assert metrics[f"train_{name}"] == pytest.approx(value), name
    assert metrics["train_pixel_variance"] == pytest.approx(float(train.var()), rel=1e-4)
    assert metrics["test_mse_variance"] == pytest.approx(
        metrics["test_mse"] / metrics["train_pixel_variance"], rel=1e-4
    )
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert (state["monitor"], state["epochs_done"]) == ("val_mse", 2)
    assert MlflowClient(store).get_run(run.info.run_id).data.params["model.quantizer.kind"] == "ema"
    logged = {
        a.path: a.file_size for a in client.list_artifacts(run.info.run_id, "reconstructions")
    }
    assert set(logged) == {"reconstructions/epoch_001.png", "reconstructions/epoch_002.png"}
    assert all(size > 1000 for size in logged.values())
    (usage,) = [a for a in client.list_artifacts(run.info.run_id) if a.path == "codebook_usage.png"]
    assert usage.file_size > 1000
    grid = plt.imread(run_dir / "reconstructions" / "epoch_002.png")
    assert grid.shape[:2] == (4 * (2 * 32 + 2), 4 * (8 * 32 + 7 * 2)), "8 images, 2 rows, x4"


def test_a_prior_over_the_runs_codes_trains_and_samples_images(vqvae_run, tmp_path):
    run_dir, store = vqvae_run
    args = [
        "experiment=vqvae_prior",
        f"vqvae_run={run_dir}",
        "trainer=debug",
        "trainer.epochs=1",
        "model.hidden_size=16",
        "model.num_layers=1",
        "model.num_heads=2",
        "model.intermediate_size=32",
        "model.samples=4",
        f"hydra.run.dir={tmp_path / 'prior'}",
    ]
    result = run_script(args, store)
    assert result.returncode == 0, result.stderr[-3000:]
    client, (run,) = runs_of(store, "vqvae_prior")
    (bits,) = client.get_metric_history(run.info.run_id, "valid_bits_per_code")
    assert 0 < bits.value < 2 * 4  # at most a little above log2(16 codes) after a few steps
    assert run.data.metrics["test_bits_per_code"] > 0
    (samples,) = [a for a in client.list_artifacts(run.info.run_id) if a.path == "samples.png"]
    assert samples.file_size > 1000
    grid = plt.imread(tmp_path / "prior" / "samples.png")
    assert grid.shape[:2] == (4 * (2 * 32 + 2), 4 * (2 * 32 + 2)), "4 samples in two rows"


def test_the_ablation_is_one_sweep_over_kind_and_restarts_with_a_child_each(tmp_path):
    """The experiment's own sweep (quantizer kind x restarts; the codebook size pinned to 16
    here): one parent run, a finished child per setting with its test and train code scores."""
    store = f"sqlite:///{tmp_path}/mlflow.db"
    args = [
        "experiment=vqvae_ablation",
        "data=digits",
        "model/net=tiny",
        "model.num_codes=16",
        "trainer=debug",
        "trainer.epochs=1",
        f"hydra.sweep.dir={tmp_path}/sweep",
    ]
    result = run_script(args, store, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = runs_of(store, "vqvae")
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.run_name == "vqvae_ablation: kind × restart_after (sweep)"
    assert parent.data.params == {
        "sweep.model.quantizer.kind": "plain,ema",
        "sweep.model.quantizer.restart_after": "null,100",
    }
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in children)
    settings = {
        (r.data.params["model.quantizer.kind"], r.data.params["model.quantizer.restart_after"])
        for r in children
    }
    assert settings == {(kind, after) for kind in ("plain", "ema") for after in ("None", "100")}
    assert {r.info.status for r in runs} == {"FINISHED"}
    for child in children:
        assert child.data.params["model.num_codes"] == "16"
        for name in ("test_mse_variance", "test_psnr", "train_perplexity", "train_codes_used"):
            assert np.isfinite(child.data.metrics[name]), name
