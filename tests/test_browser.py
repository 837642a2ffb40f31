"""The MLflow UI in a real browser (Debian's chromium driven by Playwright) over a store made by
a small sweep: the runs page shows the sweep's parent by name, expanding it shows every child,
each shows its dataset, the compare page of the children offers the swept params, and the
parent's page shows the comparison. The screenshots go to ``$KERASLAB_SCREENSHOTS`` when it is set (the README's)."""

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import DEBUG, run_script, runs_of
from ui_server import make_ui

from keraslab.tracking.hydra_job import PARENT_RUN_FILE

SWEEP = ["optimizer=adam,lookahead", "optimizer.learning_rate=1e-3,3e-3"]
PARENT = "sweep: optimizer × learning_rate (lr_x_optimizer)"
CHILDREN = [
    "optimizer=adam learning_rate=0.001 (job 0)",
    "optimizer=adam learning_rate=0.003 (job 1)",
    "optimizer=lookahead learning_rate=0.001 (job 2)",
    "optimizer=lookahead learning_rate=0.003 (job 3)",
]
TIMEOUT_MS = 90_000  # the UI on 2 busy cores


def chromium() -> str:
    path = os.environ.get("KERASLAB_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "no chromium on PATH (nor KERASLAB_CHROMIUM): `make browser` installs Debian's "
            "chromium, which Playwright drives through executable_path"
        )
    return path


@pytest.fixture(scope="module")
def swept_store(corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui")
    store = f"sqlite:///{folder}/mlflow.db"
    result = run_script(
        [
            "-m",
            *DEBUG,
            f"data.data_dir={corpus}",
            *SWEEP,
            f"hydra.sweep.dir={folder / 'lr_x_optimizer'}",
        ],
        store,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = runs_of(store)
    parent = json.loads((folder / "lr_x_optimizer" / PARENT_RUN_FILE).read_text())["run_id"]
    return store, runs[0].info.experiment_id, parent


def screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=tmp_path / name)
    if target := os.environ.get("KERASLAB_SCREENSHOTS"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, Path(target) / name)


def close_assistant(page) -> None:
    """MLflow 3.17 opens its assistant panel beside every page in a new browser profile."""
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.first.click()


def test_the_runs_and_compare_pages_show_the_sweep_as_swept(swept_store, tmp_path):
    from playwright.sync_api import sync_playwright

    store, experiment, parent = swept_store
    with make_ui(store) as (port, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        base = f"http://127.0.0.1:{port}/#/experiments/{experiment}"

        page.goto(f"{base}/runs?workflowType=machine_learning")  # the README's link
        page.get_by_text(PARENT, exact=True).wait_for()
        close_assistant(page)
        assert page.get_by_text("(job ", exact=False).count() == 0, "children start collapsed"
        page.locator("button[data-component-id*=runnamecellrenderer]").first.click()  # expand
        for name in CHILDREN:
            page.get_by_text(name, exact=True).wait_for()
        datasets = page.get_by_role("gridcell").get_by_text("sentiment (")
        assert datasets.count() == 3 * len(CHILDREN), "each job: train, valid and test, digested"
        screenshot(page, tmp_path, "ui_runs.png")

        rows = page.locator("[role=row]").filter(has_text="(job ")
        assert rows.count() == len(CHILDREN)
        for row in rows.all():
            row.locator("input.ag-checkbox-input").check(force=True)
        page.get_by_role("button", name="Compare").click()
        page.get_by_text(f"Comparing {len(CHILDREN)} Runs").wait_for()
        close_assistant(page)
        axes = page.locator("text=Parameters:").locator("xpath=..")
        offered = axes.inner_text()
        assert "choice.optimizer" in offered and "optimizer.learning_rate" in offered
        assert "paths." not in offered and "run_dir" not in offered
        screenshot(page, tmp_path, "ui_compare.png")

        page.goto(f"{base}/runs/{parent}?workflowType=machine_learning")
        page.get_by_text("best_job.best_valid_accuracy").first.wait_for()
        close_assistant(page)
        description = page.get_by_text("sorted by best_valid_accuracy (max)").first
        assert description.is_visible()
        for name in ("sweep.optimizer", "sweep.optimizer.learning_rate", "adam,lookahead"):
            assert page.get_by_text(name, exact=True).count() >= 1, name
        screenshot(page, tmp_path, "ui_parent.png")
        browser.close()
