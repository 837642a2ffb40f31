"""Shared fixtures: a small sentiment corpus, an isolated MLflow store, a runner for the scripts,
and one debug run of the default experiment that several test modules read."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import keraslab  # noqa: F401  (sets TensorFlow's defaults before any test module imports keras)

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KERASLAB_ROOT", str(ROOT))

# Started as a background job of a shell without job control, the suite inherits SIGINT ignored,
# which Python keeps (and passes on to the scripts it starts): the Ctrl-C tests need Python's own.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

POSITIVE = "好棒赞喜欢满意舒服干净推荐值得开心"
NEGATIVE = "差烂糟讨厌失望脏贵慢吵难坑后悔"
NEUTRAL = "这个酒店房间服务书本东西我们觉得还有就是"

# Overrides that make a run take seconds: a one-layer, 32-wide encoder on short texts.
TINY_MODEL = [
    "model.encoder.num_layers=1",
    "model.encoder.hidden_size=32",
    "model.encoder.num_heads=2",
    "model.encoder.intermediate_size=64",
    "data.maxlen=32",
    "data.batch_size=16",
    "data.min_char_count=1",
]


def benchmark_module(name: str):
    """``benchmarks/<name>.py`` imported as a module (the folder is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compose_config(overrides: list[str]):
    """The root config with ``overrides``, composed as scripts/run.py would (without running)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def tiny_classifier(corpus, *overrides):
    """The tiny classifier's config, task and data read from ``corpus``, with ``overrides``."""
    from keraslab.config_checks import instantiate_section

    cfg = compose_config(
        [f"data.data_dir={corpus}", "data.min_char_count=1", *TINY_MODEL, *overrides]
    )
    task = instantiate_section(cfg, "model")
    return task, instantiate_section(cfg, "data").setup(**task.data_options()), cfg


def write_corpus(folder: Path, sizes: dict[str, int], seed: int = 0) -> Path:
    """Texts of neutral characters with a few sentiment characters: label 1 uses POSITIVE ones."""
    import random

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, size in sizes.items():
        lines = []
        for index in range(size):
            label = index % 2
            cues = POSITIVE if label else NEGATIVE
            chars = rng.choices(NEUTRAL, k=rng.randint(5, 40)) + rng.choices(
                cues, k=rng.randint(1, 4)
            )
            rng.shuffle(chars)
            lines.append(f"{''.join(chars)}\t{label}")
        (folder / f"sentiment.{split}.data").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(
        tmp_path_factory.mktemp("data") / "sentiment", {"train": 400, "valid": 64, "test": 64}
    )


@pytest.fixture
def tracking_uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/mlflow.db"


def run_script(
    args: list[str],
    tracking_uri: str | None = None,
    timeout: float = 300,
    script: str = "run.py",
    env: dict[str, str] | None = None,
    **popen,
):
    """Run ``scripts/<script>`` in a fresh interpreter, with ``env`` added to this process's
    environment; returns the CompletedProcess (text output)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def finished_runs(args: list[str], tracking_uri: str, experiment: str = "sentiment", **options):
    """Run scripts/run.py and expect success; then :func:`runs_of` the experiment."""
    result = run_script(args, tracking_uri, **options)
    assert result.returncode == 0, result.stderr[-3000:]
    return runs_of(tracking_uri, experiment)


def runs_of(tracking_uri: str, experiment: str = "sentiment"):
    """All runs of ``experiment`` in the store, oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment!r} in {tracking_uri}"
    return client, client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])


DEBUG = ["trainer=debug", *TINY_MODEL]


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


@pytest.fixture(scope="session")
def debug_run(corpus, store, tmp_path_factory):
    """One debug run (2 epochs x 6 steps, step metrics every 2 updates) shared by several tests."""
    run_dir = tmp_path_factory.mktemp("run")
    fonts = tmp_path_factory.mktemp("matplotlib")  # an empty font cache: matplotlib rebuilds it
    result = run_script(
        [*DEBUG, f"data.data_dir={corpus}", f"hydra.run.dir={run_dir}"],
        store,
        env={"MPLCONFIGDIR": str(fonts)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client, runs = runs_of(store)
    return client, runs[-1], run_dir, result


def loss_history(client, run_id):
    return [(m.step, m.value) for m in client.get_metric_history(run_id, "loss")]


def trajectory(backend: str, corpus, initial, out, *overrides: str) -> dict:
    """``tests/backend_trajectory.py`` on ``backend`` in its own process: its losses and final
    weights (initial weights read from ``initial``, or written there when it is missing)."""
    import numpy as np

    command = [sys.executable, str(ROOT / "tests" / "backend_trajectory.py"), backend]
    command += [str(corpus), str(initial), str(out), *overrides]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(out, allow_pickle=False))
