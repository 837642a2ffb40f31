"""Every option of every config group composes, and its parts instantiate and work together."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, compose_config
from hydra.utils import instantiate
from omegaconf import OmegaConf
from spo_fixture import write_spo

from keraslab.loaders import Schedule

GROUPS = [
    "model/encoder",
    "data",
    "loader",
    "model",
    "optimizer",
    "accumulation",
    "trainer",
    "logger",
    "paths",
    "hydra",
    "experiment",
    "debug",
    "hparams_search",
]
OPTIONS = [
    (group, path.stem)
    for group in GROUPS
    for path in sorted((ROOT / "conf" / group).glob("*.yaml"))
]
# Options that only make sense together: a masked LM reads raw text, a triple model DuIE files,
# a VQ-VAE images (one training photo here, for speed), a code prior the codes of a VQ-VAE run.
COMPANIONS = {
    ("model", "masked_lm"): ["data=sentiment_mlm"],
    ("data", "sentiment_mlm"): ["model=masked_lm"],
    ("data", "spo_mlm"): ["model=masked_lm"],
    ("model", "triples"): ["data=spo"],
    ("data", "spo"): ["model=triples"],
    ("experiment", "triples_pretrained"): ["model.encoder.checkpoint=null"],
    ("model", "vqvae"): ["data=digits"],
    ("data", "digits"): ["model=vqvae"],
    ("data", "image_patches"): ["model=vqvae", "model/net=tiny", "data.photos.train=[coffee]"],
    ("experiment", "vqvae"): ["data.photos.train=[coffee]"],
    ("experiment", "vqvae_ema"): ["data.photos.train=[coffee]"],
    ("experiment", "vqvae_ablation"): ["data.photos.train=[coffee]"],
    ("model", "code_prior"): ["data=code_grids", "data.vqvae_run={vqvae_run}"],
    ("data", "code_grids"): ["model=code_prior", "data.vqvae_run={vqvae_run}"],
    ("experiment", "vqvae_prior"): ["vqvae_run={vqvae_run}"],
}
SPO_DATA = ("keraslab.data.SpoData", "keraslab.data.SpoTextData")


@pytest.fixture(scope="module")
def spo(tmp_path_factory):
    return write_spo(tmp_path_factory.mktemp("spo"), {"train": 40, "valid": 8})


@pytest.fixture(scope="module")
def vqvae_run(tmp_path_factory):
    """The folder of an (untrained) tiny VQ-VAE run on the digits, as a code prior reads it."""
    folder = tmp_path_factory.mktemp("vqvae-run")
    cfg = compose_config(
        ["experiment=vqvae", "data=digits", "model/net=tiny", "model.num_codes=16"]
    )
    task = instantiate(cfg.model)
    model = task.build_model(instantiate(cfg.data).setup())
    task.compile(model, instantiate(cfg.optimizer))
    (folder / "checkpoints").mkdir()
    model.save(folder / "checkpoints" / "best.keras")
    (folder / ".hydra").mkdir()
    OmegaConf.save(cfg, folder / ".hydra" / "config.yaml")
    return folder


def test_every_group_has_options():
    assert {group for group, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_instantiates(group, option, corpus, spo, vqvae_run, tmp_path):
    if group == "hydra":
        cfg = compose_config([f"data.data_dir={corpus}"])
        assert cfg.data.data_dir == str(corpus)
        return
    companions = [o.format(vqvae_run=vqvae_run) for o in COMPANIONS.get((group, option), [])]
    overrides = [f"{group}={option}", *companions]
    cfg = compose_config(overrides)
    if "data_dir" in cfg.data:  # text data: the test's own corpus
        folder = spo if cfg.data._target_ in SPO_DATA else corpus
        cfg = compose_config([*overrides, f"data.data_dir={folder}"])
    task = instantiate(cfg.model)
    data = instantiate(cfg.data).setup(**task.data_options())
    batches = data.batches("train", seed=0)
    model = task.build_model(data)
    task.compile(model, instantiate(cfg.optimizer), instantiate(cfg.trainer).jit_compile)
    with instantiate(cfg.loader).open(Schedule(batches, 0, len(batches))) as fetcher:
        batch = fetcher.get(0)
    outputs = model(batch[0])
    labels = batch[1]
    if isinstance(outputs, dict):  # one output per target
        assert set(outputs) == set(labels)
        assert all(outputs[name].shape == labels[name].shape for name in labels)
    elif outputs.shape[1:] == labels.shape[1:]:  # a reconstruction
        assert outputs.shape == labels.shape
    else:  # logits over classes (or codes, or tokens) for each label
        assert outputs.shape == (*labels.shape, model.output_shape[-1])
    assert np.isfinite(model.train_on_batch(*batch)[0])
    tracker = instantiate(cfg.logger)
    assert hasattr(tracker, "run")


def test_run_script_help_and_cfg_do_not_import_tensorflow():
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['run.py'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_path('scripts/run.py', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('IMPORTED', [m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules])\n"
    )
    for flags in (["--help"], ["--cfg", "job"]):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", probe, *flags],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.perf_counter() - start
        assert result.returncode == 0, result.stderr
        assert "IMPORTED []" in result.stdout, result.stdout[-500:]
        assert elapsed < 2.0, f"{flags} took {elapsed:.2f} s"


def test_a_bad_config_value_stops_before_tensorflow_loads_and_before_any_mlflow_run(tmp_path):
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['run.py'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_path('scripts/run.py', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    print('EXIT', exit.code)\n"
        "print('IMPORTED', [m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules])\n"
    )
    store = tmp_path / "mlflow.db"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "trainer.epochs=abc",
            "optimizer.learning_rate=-1",
            f"hydra.run.dir={tmp_path}/run",
        ],
        cwd=ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "EXIT 2" in result.stdout and "IMPORTED []" in result.stdout, result.stdout[-500:]
    assert "trainer.epochs must be an integer >= 1, got 'abc'" in result.stderr
    assert "optimizer.learning_rate must be a number > 0, got -1" in result.stderr
    assert not store.exists()
