"""Hyper-parameter search with Optuna over Hydra overrides (``hparams_search=optuna``).

The search space is written in Hydra's sweep syntax, one key each:
``interval(1e-4, 1e-2)`` is a float drawn uniformly (``tag(log, interval(...))``: uniformly in
its logarithm; ``int(interval(1, 10))`` draws integers), ``a,b,c`` (``null`` allowed),
``choice(a, b)`` and ``range(a, b)`` are categorical over the options as written. A trial is asked for every key's value, runs as one
Hydra job with those overrides, and is told the job's returned objective; a job that fails (or
returns NaN) is recorded as a FAIL trial and the study goes on.

The study lives in a database (SQLite under ``outputs/`` by default) and is loaded by name, so
a killed search resumes and several machines can share one study: ``n_trials`` counts every
trial in the study. A trial left RUNNING by a process of this host that no longer exists was
interrupted: it runs again under the same number, from its last checkpoint when it has one.
"""

import json
import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from keraslab.errors import ConfigError

DIRECTIONS = ("maximize", "minimize")
OVERRIDES_ATTR = "overrides"  # a trial's user attribute: the overrides its job ran with


@dataclass(frozen=True)
class Dimension:
    """One key of the space: floats or ints in [low, high] (``log``: log-uniform), or
    ``options`` (override texts) to choose among."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    options: tuple[str, ...] = ()

    def suggest(self, trial, key: str) -> str:
        """Ask ``trial`` for this key's value; returns it as override text."""
        if self.options:
            return str(trial.suggest_categorical(key, list(self.options)))
        if self.integer:
            return str(trial.suggest_int(key, int(self.low), int(self.high), log=self.log))
        return repr(trial.suggest_float(key, self.low, self.high, log=self.log))


def parse_space(params: Mapping[str, str], arguments: list[str]) -> tuple[list[str], dict]:
    """``(fixed overrides, {key: Dimension})`` from the config's ``params`` and the command
    line; a sweep on the command line (``lr=interval(1e-5,1e-3)``) replaces the config's, a
    single value there pins the key."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    space, fixed = {}, []
    written = [f"{key}={value}" for key, value in params.items()]
    try:
        overrides = OverridesParser.create().parse_overrides([*written, *arguments])
    except OverrideParseException as error:
        raise ConfigError(
            f"hparams_search: a search dimension does not parse: {error}. Expected Hydra's sweep "
            "syntax: interval(low, high), tag(log, interval(low, high)), a,b,c or choice(a, b)"
        ) from error
    for override in overrides:
        key = override.get_key_element()
        if override.is_sweep_override():
            space[key] = _dimension(override)
        else:
            space.pop(key, None)
            fixed.append(override.input_line)
    if not space:
        raise ConfigError(
            "hparams_search: the search space is empty; give hydra.sweeper.params (or sweeps on "
            "the command line) such as optimizer.learning_rate='tag(log, interval(1e-4, 1e-2))'"
        )
    return fixed, space


def _dimension(override) -> Dimension:
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    value = override.value()
    if isinstance(value, IntervalSweep):
        integer = isinstance(value.start, int) and isinstance(value.end, int)
        if not value.start < value.end:
            raise ConfigError(
                f"hparams_search: {override.input_line!r} is an empty interval; expected "
                "interval(low, high) with low < high"
            )
        return Dimension(value.start, value.end, log="log" in value.tags, integer=integer)
    if isinstance(value, ChoiceSweep | RangeSweep):
        options = tuple(override.sweep_string_iterator())
        return Dimension(options=options)
    raise ConfigError(
        f"hparams_search: {override.input_line!r} is not a search dimension Optuna can draw "
        "from; expected interval(low, high), tag(log, interval(low, high)), choice(...) or "
        "range(...)"
    )


def open_study(storage: str, name: str, direction: str, seed: int | None):
    """Load the study ``name`` from ``storage``, or create it (TPE sampler seeded by ``seed``)."""
    import optuna

    if direction not in DIRECTIONS:
        raise ConfigError(
            f"hparams_search: direction {direction!r} is not one of {', '.join(DIRECTIONS)}"
        )
    if storage.startswith("sqlite:///"):
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        load_if_exists=True,
    )
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"hparams_search: study {name!r} in {storage} was made to "
            f"{study.direction.name.lower()}, not to {direction}; use another study_name"
        )
    return study


def _owner() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def ask(study):
    """A new trial, RUNNING and claimed by this process from the moment it exists.

    ``study.ask()`` alone creates the trial RUNNING and unclaimed: a kill before the claim was
    written would leave a trial that counts towards ``n_trials`` and that no resumed search
    recognises as its own. So the claim goes in with the trial, as a WAITING trial that
    ``study.ask()`` then takes (it takes the oldest WAITING trial). A WAITING trial already
    there (a kill between the two calls left it) is taken instead of adding one, so none is
    left over when the search has its ``n_trials``."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        study.enqueue_trial({}, user_attrs=_owner())
    trial = study.ask()
    claim(trial)  # the WAITING trial taken may have been another process's
    return trial


def claim(trial) -> None:
    """Record on ``trial`` the process running it."""
    for key, value in _owner().items():
        trial.set_user_attr(key, value)


def interrupted_trials(study) -> list:
    """RUNNING trials claimed by a process of this host that no longer exists."""
    from optuna.trial import TrialState

    found = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host") == socket.gethostname() and not _alive(attrs.get("pid")):
            found.append(trial)
    return found


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resumed(study, frozen):
    """A handle on an interrupted trial (from :func:`interrupted_trials`) to run it again."""
    import optuna

    return optuna.trial.Trial(study, frozen._trial_id)


def overrides(trial, fixed: list[str], space: Mapping[str, Dimension]) -> list[str]:
    """The overrides of ``trial``'s job: ``fixed``, then a value of every key of ``space``,
    kept on the trial (user attribute ``overrides``) so that it reruns with them when
    interrupted. A trial interrupted before they were kept draws them now (a value it drew
    already stays: Optuna returns a trial's existing value of a parameter)."""
    if OVERRIDES_ATTR in trial.user_attrs:
        return list(trial.user_attrs[OVERRIDES_ATTR])
    drawn = [*fixed, *(f"{key}={dim.suggest(trial, key)}" for key, dim in space.items())]
    trial.set_user_attr(OVERRIDES_ATTR, drawn)
    return drawn


def tell(study, trial, job_return) -> None:
    """Record a job's outcome: its returned value, or FAIL with the error as user attribute
    ``error`` (a job that raised, or returned something that is not a finite number)."""
    from hydra.core.utils import JobStatus
    from optuna.trial import TrialState

    if job_return.status == JobStatus.COMPLETED:
        value = job_return.return_value
        if isinstance(value, int | float) and math.isfinite(value):
            study.tell(trial, float(value))
            return
        error = f"the job returned {value!r}, not a finite number"
    else:
        failure = job_return._return_value  # JobReturn.return_value would re-raise it
        error = f"{type(failure).__name__}: {failure}"
    trial.set_user_attr("error", error[:2000])
    study.tell(trial, state=TrialState.FAIL)


def summarise(study, folder: Path) -> tuple[dict, list[Path]]:
    """``best_params.json`` and ``history.png`` (each trial's value, failed trials marked, the
    best so far) in ``folder``; returns the best trial's summary (empty if none completed)."""
    from optuna.trial import TrialState

    from keraslab.image_files import pyplot, save_figure

    folder.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    best = {}
    if done:
        trial = study.best_trial
        best = {"number": trial.number, "value": trial.value, "params": trial.params}
    states = {state.name: sum(t.state == state for t in trials) for state in TrialState}
    summary = {"study": study.study_name, "direction": study.direction.name.lower(), **best}
    summary["trials"] = {name: count for name, count in states.items() if count}
    table = folder / "best_params.json"
    table.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    figure, axes = pyplot().subplots(figsize=(7, 4))
    better = max if summary["direction"] == "maximize" else min
    running, so_far = [], None
    for trial in done:
        so_far = trial.value if so_far is None else better(so_far, trial.value)
        running.append(so_far)
    axes.plot([t.number for t in done], [t.value for t in done], "o", label="trial value")
    axes.step([t.number for t in done], running, where="post", label="best so far")
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    if failed:
        low = min((t.value for t in done), default=0.0)
        axes.plot(failed, [low] * len(failed), "rx", label="failed")
    axes.set_xlabel("trial")
    axes.set_ylabel("objective")
    axes.set_title(f"{study.study_name}: optimisation history")
    axes.legend(fontsize="small")
    plot = save_figure(figure, folder / "history.png")
    return summary, [table, plot]
