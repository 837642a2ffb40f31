"""A sweep's comparison from a store made by hand: rows sorted by the objective in its
direction, the best marked, the table as text and Markdown, the PNG, the parent's description
and best-job metric; the parent found from a sweep folder, an experiment or a run id; and
``scripts/compare.py`` end to end."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from conftest import run_script
from mlflow import MlflowClient

from keraslab.tracking.comparison import NOTE_TAG, find_parent, load_comparison, publish
from keraslab.tracking.hydra_job import PARENT_RUN_FILE

JOBS = {  # job -> (learning rate, best valid loss, test loss, valid loss per epoch)
    "0": ("0.1", 0.50, 0.55, [0.9, 0.5]),
    "1": ("0.01", 0.30, 0.35, [0.6, 0.3]),
    "2": ("0.001", 0.40, 0.42, [0.7, 0.4]),
}


@pytest.fixture
def sweep(tmp_path):
    """A parent with three children as a sweep over the learning rate leaves them."""
    store = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(store)
    experiment = client.create_experiment("toy")
    parent = client.create_run(experiment, run_name="toy: learning_rate (sweep)").info.run_id
    client.log_param(parent, "sweep.optimizer.learning_rate", "0.1,0.01,0.001")
    for job, (rate, best, test, curve) in JOBS.items():
        tags = {
            "mlflow.parentRunId": parent,
            "job.num": job,
            "objective": "best_valid_loss",
            "objective_mode": "min",
            "monitor": "val_loss",
        }
        child = client.create_run(experiment, tags=tags).info.run_id
        client.log_param(child, "optimizer.learning_rate", rate)
        client.log_param(child, "seed", "0")
        client.log_metric(child, "best_valid_loss", best)
        client.log_metric(child, "test_loss", test)
        for epoch, value in enumerate(curve, start=1):
            client.log_metric(child, "valid_loss", value, step=10 * epoch)
        client.set_terminated(child)
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / PARENT_RUN_FILE).write_text(json.dumps({"run_id": parent}))
    return client, store, parent, tmp_path


def test_rows_are_sorted_by_the_objective_and_the_best_is_marked(sweep):
    client, _, parent, _ = sweep
    comparison = load_comparison(client, parent)
    assert comparison.swept == ["optimizer.learning_rate"]
    assert [row.job for row in comparison.rows] == ["1", "2", "0"]  # loss: lowest first
    assert comparison.best.swept == {"optimizer.learning_rate": "0.01"}
    assert comparison.markdown().splitlines()[2:] == [
        "| job | optimizer.learning_rate | best_valid_loss (min) | test_loss | status |",
        "| --- | --- | --- | --- | --- |",
        "| 1 | 0.01 | 0.3000 **best** | 0.3500 | FINISHED |",
        "| 2 | 0.001 | 0.4000 | 0.4200 | FINISHED |",
        "| 0 | 0.1 | 0.5000 | 0.5500 | FINISHED |",
    ]
    assert "0.3000 *" in comparison.text()


def test_publish_logs_the_table_plot_description_and_best_value_to_the_parent(sweep):
    client, _, parent, tmp_path = sweep
    comparison = load_comparison(client, parent)
    table, plot = publish(client, comparison, tmp_path / "out")
    assert table.read_text(encoding="utf-8").strip() == comparison.markdown()
    assert plt.imread(plot).shape[:2] == (400, 1200)
    run = client.get_run(parent)
    assert run.data.tags[NOTE_TAG] == comparison.markdown()
    assert run.data.metrics["best_job.best_valid_loss"] == pytest.approx(0.30)
    assert run.data.tags["best_job.run_id"] == comparison.best.run_id
    logged = {a.path for a in client.list_artifacts(parent, "comparison")}
    assert logged == {
        "comparison/comparison.md",
        "comparison/comparison.png",
        "comparison/comparison.json",
    }
    logged = Path(client.download_artifacts(parent, "comparison/comparison.json", tmp_path))
    logged_table = json.loads(logged.read_text())
    columns = {
        name: list(column)
        for name, column in zip(
            logged_table["columns"], zip(*logged_table["data"], strict=True), strict=True
        )
    }
    assert columns["job"] == ["1", "2", "0"]
    assert columns["best_valid_loss"] == pytest.approx([0.30, 0.40, 0.50])
    assert columns["optimizer.learning_rate"] == ["0.01", "0.001", "0.1"]
    publish(client, comparison, tmp_path / "again")  # a second comparison replaces the first
    again = Path(client.download_artifacts(parent, "comparison/comparison.json", tmp_path / "2"))
    assert json.loads(again.read_text()) == logged_table
    tables = json.loads(client.get_run(parent).data.tags["mlflow.loggedArtifacts"])
    assert tables == [{"path": "comparison/comparison.json", "type": "table"}]


def test_the_parent_is_found_from_a_folder_an_experiment_or_its_id(sweep):
    client, _, parent, tmp_path = sweep
    assert find_parent(client, str(tmp_path / "sweep")) == parent
    assert find_parent(client, "toy") == parent
    assert find_parent(client, parent) == parent
    with pytest.raises(LookupError, match="'nothing' is not a sweep folder"):
        find_parent(client, "nothing")


def test_compare_script_prints_the_table_and_writes_its_files(sweep):
    _, store, _, tmp_path = sweep
    result = run_script(
        [str(tmp_path / "sweep"), "--tracking-uri", store, "--out", str(tmp_path / "cmp")],
        script="compare.py",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[3].split() == ["1", "0.01", "0.3000", "*", "0.3500", "FINISHED"]
    assert (tmp_path / "cmp" / "comparison.png").stat().st_size > 1000
    missing = run_script(["nothing", "--tracking-uri", store], script="compare.py")
    assert missing.returncode == 2 and missing.stderr.startswith("error: 'nothing' is not")


def test_a_swept_config_group_shows_the_choice_each_job_made(sweep):
    client, _, parent, _ = sweep
    client.log_param(parent, "sweep.optimizer", "adam,lookahead")
    children = client.search_runs(
        [client.get_run(parent).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
    )
    for child in children:
        choice = "lookahead" if child.data.tags["job.num"] == "1" else "adam"
        client.log_param(child.info.run_id, "choice.optimizer", choice)
    comparison = load_comparison(client, parent)
    assert comparison.swept == ["optimizer", "optimizer.learning_rate"]
    assert [row.swept["optimizer"] for row in comparison.rows] == ["lookahead", "adam", "adam"]


def test_a_job_run_again_counts_once_by_its_latest_run(sweep):
    client, _, parent, _ = sweep
    experiment = client.get_run(parent).info.experiment_id
    tags = {"mlflow.parentRunId": parent, "job.num": "0", "objective": "best_valid_loss"}
    rerun = client.create_run(experiment, tags={**tags, "objective_mode": "min"}).info.run_id
    client.log_param(rerun, "optimizer.learning_rate", "0.1")
    client.log_metric(rerun, "best_valid_loss", 0.2)
    client.set_terminated(rerun)
    comparison = load_comparison(client, parent)
    assert [row.job for row in comparison.rows] == ["0", "1", "2"]
    assert comparison.best.run_id == rerun


def test_per_epoch_metrics_become_columns_of_every_epochs_value(sweep):
    client, _, parent, _ = sweep
    comparison = load_comparison(client, parent, per_epoch=["valid_loss"])
    header, cells = comparison.table()
    assert header[2] == "valid_loss by epoch"
    assert [line[2] for line in cells] == ["0.6000 / 0.3000", "0.7000 / 0.4000", "0.9000 / 0.5000"]
    assert comparison.columns()["valid_loss by epoch"][0] == [0.6, 0.3]
