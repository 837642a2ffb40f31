"""``scripts/evaluate.py``: score a finished run's best checkpoint on any file, for any task.

The run folder gives everything: its composed config (``.hydra/config.yaml``) names the task and
the data module, its artifacts (the vocab) let the data module read the file as the run read its
own, and ``checkpoints/best.keras`` holds the model. The scores go to a new MLflow run in the
source run's experiment, tagged ``source.run_id``; with the run's own test file they equal the
run's ``test_*`` (``weights=raw``) or ``test_ema_*`` (``weights=ema``) metrics.
"""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from keraslab.backends import BACKENDS, use_backend
from keraslab.config_checks import instantiate_section
from keraslab.errors import InputError
from keraslab.evaluation import WEIGHTS, chosen_weights, evaluate_split, scored_checkpoint
from keraslab.resume import STATE_FILE, read_state
from keraslab.tracking.hydra_job import current_job

SPLIT_NAME = "eval"


def read_run(run_dir: str) -> tuple[Path, DictConfig, Path]:
    """The run folder, its config and the checkpoint to score; one error if it is not a run."""
    folder = Path(run_dir)
    config = folder / ".hydra" / "config.yaml"
    if not config.is_file():
        problem = f"it lacks {config}" if folder.is_dir() else "there is no such folder"
        raise InputError(
            f"run={run_dir!r} is not a run folder: {problem}; expected the output folder of a "
            "scripts/run.py run (outputs/runs/<date>/<time>)."
        )
    return folder, OmegaConf.load(config), scored_checkpoint(folder)


def evaluate_run(cfg: DictConfig) -> dict[str, float]:
    """Print and log ``eval_<metric>`` of the run ``cfg.run`` on the file ``cfg.split``; every
    input is checked before an MLflow run opens."""
    run_dir, run_cfg, checkpoint = read_run(cfg.run)
    if cfg.weights not in WEIGHTS:
        raise InputError(f"weights must be one of {', '.join(WEIGHTS)}, got {cfg.weights!r}.")
    if cfg.backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}, got {cfg.backend!r}.")
    task = instantiate_section(run_cfg, "model")
    data = instantiate_section(run_cfg, "data").restore(run_dir)
    split = Path(cfg.split)
    examples = len(data.read_split(split, SPLIT_NAME))
    state_file = run_dir / "checkpoints" / STATE_FILE
    source = read_state(state_file).mlflow_run_id if state_file.is_file() else None

    from keraslab.loaders import InlineLoader
    from keraslab.optimizers import update_count
    from keraslab.quiet import import_backend
    from keraslab.training import Trainer

    use_backend(cfg.backend)
    import_backend()
    import keras

    # the run's own dtype policy: its optimizer (a LossScaleOptimizer for float16) loads whole
    keras.config.set_dtype_policy(run_cfg.trainer.get("precision", "float32"))

    model = Trainer.restore(checkpoint)
    weights = chosen_weights(cfg.weights, model)
    tracker = instantiate_section(cfg, "logger", experiment_name=cfg.task_name or run_cfg.task_name)
    with tracker.run(OmegaConf.to_container(cfg, resolve=True), current_job()):
        tracker.set_tags(
            {
                "source.run_id": source or "unknown",
                "source.run_dir": str(run_dir.resolve()),
                "source.checkpoint": checkpoint.name,
                "eval.split": str(split.resolve()),
                "eval.weights": weights,
            }
        )
        metrics = evaluate_split(task, model, data, SPLIT_NAME, InlineLoader(), weights)
        tracker.log_metrics(
            {f"eval_{name}": value for name, value in metrics.items()},
            update_count(model.optimizer),
        )
    scores = ", ".join(f"{name} {value:.6f}" for name, value in sorted(metrics.items()))
    print(
        f"{split} ({examples} examples) scored by {checkpoint} with the {weights} weights: "
        f"{scores}\n{tracker.describe()}",
        flush=True,
    )
    return metrics
