"""``hydra/sweeper=optuna`` (``hparams_search=optuna``): Optuna's ask-and-tell over Hydra jobs,
launched by whichever Hydra launcher is configured. The search itself is
:mod:`keraslab.hparams_search`; Hydra loads sweepers only from the ``hydra_plugins`` package."""

from pathlib import Path

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from keraslab import hparams_search as search
from keraslab.errors import ConfigError


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        storage: str,
        study_name: str,
        direction: str,
        n_trials: int,
        n_jobs: int = 1,
        seed: int | None = 0,
        params: dict | None = None,
    ) -> None:
        for name, value in (("n_trials", n_trials), ("n_jobs", n_jobs)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"hydra.sweeper.{name}={value!r}: expected a whole number of at least 1"
                )
        self.storage, self.study_name, self.direction = storage, study_name, direction
        self.n_trials, self.n_jobs, self.seed = n_trials, n_jobs, seed
        self.params = dict(params or {})

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        fixed, space = search.parse_space(self.params, arguments)
        study = search.open_study(self.storage, self.study_name, self.direction, self.seed)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        for frozen in search.interrupted_trials(study):
            trial = search.resumed(study, frozen)
            search.claim(trial)
            overrides = search.overrides(trial, fixed, space)
            run_dir = sweep_dir / str(frozen.number)
            if (run_dir / "checkpoints" / "state.json").is_file():
                overrides.append(f"resume={run_dir}")
            self._launch(study, [trial], [overrides])

        while (left := self.n_trials - len(study.trials)) > 0:
            trials = [search.ask(study) for _ in range(min(self.n_jobs, left))]
            batch = [search.overrides(trial, fixed, space) for trial in trials]
            self._launch(study, trials, batch)

        summary, files = search.summarise(study, sweep_dir / "optuna")
        self._annotate_parent(sweep_dir, summary, files)
        print(f"optuna study {self.study_name!r} ({self.storage}): {summary}", flush=True)

    def _launch(self, study, trials: list, batch: list[list[str]]) -> None:
        """Run the trials' jobs, numbered as the trials (together when the numbers follow on,
        as they do unless another machine asked for trials in between)."""
        numbers = [trial.number for trial in trials]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            groups = [(trials, batch)]
        else:
            groups = [([t], [o]) for t, o in zip(trials, batch, strict=True)]
        for group, overrides in groups:
            returns = self.launcher.launch(
                [tuple(o) for o in overrides], initial_job_idx=group[0].number
            )
            for trial, job_return in zip(group, returns, strict=True):
                search.tell(study, trial, job_return)

    def _annotate_parent(self, sweep_dir: Path, summary: dict, files: list[Path]) -> None:
        """The sweep's MLflow parent gets the best params as tags ``best.<key>``, the best value
        as metric ``best_trial.value``, the study's name and storage, and the files."""
        from hydra.utils import instantiate

        from keraslab.tracking.hydra_job import HydraJob
        from keraslab.tracking.mlflow_tracker import read_parent_file

        parent = read_parent_file(HydraJob(sweep_dir=sweep_dir))
        if parent is None:
            return
        tags = {"optuna.study": self.study_name, "optuna.storage": self.storage}
        metrics = {}
        if "params" in summary:
            tags.update({f"best.{key}": str(value) for key, value in summary["params"].items()})
            tags["best_trial.number"] = str(summary["number"])
            metrics["best_trial.value"] = summary["value"]
        tracker = instantiate(self.config.logger)
        tracker.annotate(parent["run_id"], tags, metrics, files, "optuna")
