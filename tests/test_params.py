"""Config -> MLflow params: flattening, fitting MLflow's per-value and per-batch limits, the
group choices and derived values, per-job paths as tags, and run names values first."""

from keraslab.tracking.params import (
    chunks,
    flatten,
    run_params,
    short_overrides,
    split_long_values,
)


def test_flatten_joins_keys_with_dots():
    config = {"a": {"b": 1, "c": {"d": None}}, "e": [1, 2], "f": {}}
    assert flatten(config) == {"a.b": "1", "a.c.d": "None", "e": "[1, 2]", "f": "{}"}


def test_long_values_are_split_into_numbered_parts():
    params = split_long_values({"k": "x" * 13, "short": "y"}, limit=5)
    assert params == {"k": "xxxxx", "k.part2": "xxxxx", "k.part3": "xxx", "short": "y"}
    assert split_long_values({"k": "x" * 6000})["k"] == "x" * 6000
    assert split_long_values({"k": ""}) == {"k": ""}


def test_chunks_hold_at_most_100_params_each():
    params = {f"p{i:03d}": str(i) for i in range(250)}
    sizes = [len(chunk) for chunk in chunks(params)]
    assert sizes == [100, 100, 50]
    merged = {k: v for chunk in chunks(params) for k, v in chunk.items()}
    assert merged == params


def test_run_params_add_choices_and_the_effective_batch_and_move_paths_to_tags():
    config = {
        "data": {"batch_size": 8},
        "optimizer": {"accum_steps": 4, "learning_rate": 0.001},
        "paths": {"run_dir": "/runs/3"},
    }
    params, tags = run_params(config, {"optimizer": "lookahead", "accumulation": "b8_x4"})
    assert params == {
        "data.batch_size": "8",
        "optimizer.accum_steps": "4",
        "optimizer.learning_rate": "0.001",
        "choice.optimizer": "lookahead",
        "choice.accumulation": "b8_x4",
        "derived.effective_batch_size": "32",
    }
    assert tags == {"paths.run_dir": "/runs/3"}
    no_accumulation, _ = run_params({"data": {"batch_size": 32}, "optimizer": {}}, {})
    assert no_accumulation["derived.effective_batch_size"] == "32"
    assert "derived.effective_batch_size" not in run_params({"data": {}}, {})[0]


def test_run_names_put_values_first():
    assert short_overrides(["optimizer.ema=0.99", "optimizer.ema_warmup=False"]) == (
        "ema=0.99 ema_warmup=False"
    )
    assert short_overrides(["a.lr=1", "b.lr=2", "optimizer=sgd", "+x.y=3"]) == (
        "a.lr=1 b.lr=2 optimizer=sgd y=3"
    )
    assert short_overrides([]) == ""


def test_a_sweeps_process_tags_keras_without_loading_it(tmp_path):
    """The parent run is made before any job: Keras's tags then come from its package metadata
    and the backend Keras would pick (KERAS_BACKEND, else keras.json), and Keras stays unloaded."""
    import json
    import subprocess
    import sys
    from importlib.metadata import version

    probe = (
        "import json, sys; from keraslab.tracking.mlflow_tracker import keras_tags; "
        "print(json.dumps([keras_tags(), 'keras' in sys.modules]))"
    )
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    for env, backend in [({"KERAS_BACKEND": "torch"}, "torch"), ({}, "jax")]:
        done = subprocess.run(
            [sys.executable, "-c", probe],
            env={"KERAS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            check=True,
        )
        tags, loaded = json.loads(done.stdout)
        assert tags == {"keras.backend": backend, "keras.version": version("keras")}
        assert not loaded
