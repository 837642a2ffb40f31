"""``experiment=vqvae_ema`` end to end at debug size: tracked, resumed in the same MLflow run,
with every reconstruction and code metric each epoch and on the test split, a reconstruction
grid each epoch and the codebook-usage histogram."""

import json

import matplotlib.pyplot as plt
from conftest import run_script, runs_of
from mlflow import MlflowClient

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


def test_a_vqvae_run_trains_resumes_and_reports_code_statistics(tmp_path):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    run_dir = tmp_path / "run"
    first = run_script([*ARGS, "trainer.epochs=1", f"hydra.run.dir={run_dir}"], store)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_script(
        [*ARGS, "trainer.epochs=2", f"resume={run_dir}", f"hydra.run.dir={tmp_path / 'x'}"], store
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    client, (run,) = runs_of(store, "vqvae")
    assert run.info.status == "FINISHED"
    for name in METRICS:
        assert len(client.get_metric_history(run.info.run_id, f"valid_{name}")) == 2, name
        assert f"test_{name}" in run.data.metrics, name
    metrics = run.data.metrics
    assert 0 < metrics["test_codes_used"] <= 1 and metrics["test_perplexity"] >= 1
    assert metrics["test_dead_codes"] == round(16 * (1 - metrics["test_codes_used"]))
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
