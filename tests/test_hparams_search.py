"""``hparams_search=optuna``: the search space from Hydra's sweep syntax, trials told their
job's value or FAIL, and end to end: 8 trials killed after 3 and resumed end as 8 trials in
one study under one MLflow parent; diverged trials are recorded as failed and the study goes on."""

import math
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from conftest import DEBUG, ROOT, run_script, runs_of
from hydra.core.utils import JobReturn, JobStatus
from optuna.trial import TrialState

from keraslab import hparams_search as search
from keraslab.errors import ConfigError
from keraslab.hparams_search import Dimension, interrupted_trials, parse_space, tell


def test_the_space_reads_hydras_sweep_syntax_and_the_command_line_wins():
    fixed, space = parse_space(
        {
            "optimizer.learning_rate": "tag(log, interval(1e-4, 1e-2))",
            "optimizer.ema": "null,0.99",
            "trainer.epochs": "int(interval(1, 4))",
            "data.batch_size": "16,32",
        },
        ["data.batch_size=8", "optimizer.schedule=null,{100:1.0}", "seed=3"],
    )
    assert fixed == ["data.batch_size=8", "seed=3"]
    assert space == {
        "optimizer.learning_rate": Dimension(1e-4, 1e-2, log=True),
        "optimizer.ema": Dimension(options=("null", "0.99")),
        "trainer.epochs": Dimension(1, 4, integer=True),
        "optimizer.schedule": Dimension(options=("null", "{100:1.0}")),
    }


def test_draws_stay_in_their_dimension_and_log_scale_covers_the_decades():
    _, space = parse_space(
        {"lr": "tag(log, interval(1e-4, 1e-2))", "epochs": "int(interval(1, 4))", "ema": "a,b"}, []
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    rates = []
    for _ in range(200):
        trial = study.ask()
        rate = float(space["lr"].suggest(trial, "lr"))
        assert 1e-4 <= rate <= 1e-2
        assert space["epochs"].suggest(trial, "epochs") in {"1", "2", "3", "4"}
        assert space["ema"].suggest(trial, "ema") in {"a", "b"}
        rates.append(rate)
    below = sum(rate < 1e-3 for rate in rates) / len(rates)
    assert 0.4 < below < 0.6, "log-uniform: half the draws in each decade"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "search space is empty"),
        ({"lr": "interval(1e-2, 1e-4)"}, "empty interval"),
        ({"lr": "interval(1e-2"}, "does not parse"),
    ],
)
def test_a_bad_space_is_one_clear_error(params, named):
    with pytest.raises(ConfigError, match=named):
        parse_space(params, [])


def test_a_failed_or_non_finite_job_is_a_failed_trial_and_a_value_is_told():
    study = optuna.create_study(direction="maximize")
    outcomes = [
        JobReturn(status=JobStatus.COMPLETED, _return_value=0.75),
        JobReturn(status=JobStatus.COMPLETED, _return_value=math.nan),
        JobReturn(status=JobStatus.FAILED, _return_value=RuntimeError("loss is nan at batch 3")),
    ]
    for outcome in outcomes:
        tell(study, study.ask(), outcome)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL]
    assert trials[0].value == 0.75
    assert "not a finite number" in trials[1].user_attrs["error"]
    assert trials[2].user_attrs["error"] == "RuntimeError: loss is nan at batch 3"


def dead_pid() -> int:
    """The pid of a process that has ended."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_only_trials_of_dead_processes_of_this_host_count_as_interrupted():
    import socket

    study = optuna.create_study()
    dead = dead_pid()
    for host, pid in [
        (socket.gethostname(), dead),  # gone: interrupted
        (socket.gethostname(), os.getpid()),  # alive: still running
        ("another-machine", dead),  # not ours to judge
    ]:
        trial = study.ask()
        trial.set_user_attr("host", host)
        trial.set_user_attr("pid", pid)
    assert [t.number for t in interrupted_trials(study)] == [0]


class ClaimWatch(optuna.storages.InMemoryStorage):
    """Notes, at every write that leaves a trial RUNNING, whether the trial is claimed (has a
    host and pid) already: a kill right after that write must not leave an unclaimed trial."""

    def __init__(self):
        super().__init__()
        self.claimed_when_running = []

    def create_new_trial(self, study_id, template_trial=None):
        trial_id = super().create_new_trial(study_id, template_trial)
        self._note(trial_id)
        return trial_id

    def set_trial_state_values(self, trial_id, state, values=None):
        changed = super().set_trial_state_values(trial_id, state, values)
        self._note(trial_id)
        return changed

    def _note(self, trial_id):
        trial = self.get_trial(trial_id)
        if trial.state == TrialState.RUNNING:
            self.claimed_when_running.append({"host", "pid"} <= trial.user_attrs.keys())


def test_a_trial_is_claimed_before_it_is_running():
    # The bug: study.ask() made the trial RUNNING and the claim came after; a search killed in
    # between left a RUNNING trial that counted towards n_trials and that no resume took up.
    unclaimed = ClaimWatch()
    trial = optuna.create_study(storage=unclaimed).ask()
    search.claim(trial)
    assert unclaimed.claimed_when_running == [False]

    watched = ClaimWatch()
    study = optuna.create_study(storage=watched)
    trials = [search.ask(study) for _ in range(3)]
    assert watched.claimed_when_running == [True, True, True]
    assert [t.number for t in trials] == [0, 1, 2]
    assert {t.user_attrs["pid"] for t in trials} == {os.getpid()}


def test_a_waiting_trial_left_by_a_kill_is_taken_by_the_next_ask():
    study = optuna.create_study()
    study.enqueue_trial({}, user_attrs={"host": "elsewhere", "pid": 1})  # a kill came before ask()
    trial = search.ask(study)
    assert trial.number == 0 and len(study.trials) == 1
    assert trial.user_attrs["pid"] == os.getpid()


def test_a_trial_interrupted_before_its_overrides_were_kept_draws_them_on_resume():
    import socket

    fixed, space = parse_space({"lr": "interval(0.1, 0.2)", "ema": "null,0.99"}, ["seed=3"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial({}, user_attrs={"host": socket.gethostname(), "pid": dead_pid()})
    asked = study.ask()
    space["lr"].suggest(asked, "lr")  # drawn, then killed before the overrides were kept

    (frozen,) = interrupted_trials(study)
    trial = search.resumed(study, frozen)
    overrides = search.overrides(trial, fixed, space)
    lr, ema = trial.params["lr"], trial.params["ema"]
    assert lr == asked.params["lr"]
    assert overrides == ["seed=3", f"lr={lr}", f"ema={ema}"]
    assert search.overrides(trial, fixed, space) == overrides  # kept: a rerun runs the same


SEARCH = [
    "hparams_search=optuna",
    *DEBUG,
    "optimizer.schedule=null",  # pinned: the debug run has 12 updates, no room to warm up
]


def search_command(corpus, tmp_path, *extra):
    return [
        *SEARCH,
        f"data.data_dir={corpus}",
        f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db",
        f"hydra.sweep.dir={tmp_path / 'search'}",
        *extra,
    ]


def trials_of(tmp_path, name="sentiment_lr_warmup_ema"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path}/optuna.db").trials


@pytest.mark.slow
def test_a_search_killed_after_three_trials_resumes_to_eight_in_one_study_and_one_parent(
    corpus, tmp_path
):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    command = search_command(corpus, tmp_path)
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run.py"), *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 400
    try:
        while time.monotonic() < deadline and first.poll() is None:
            done = [t for t in trials_of_if_any(tmp_path) if t.state == TrialState.COMPLETE]
            if len(done) >= 3:
                break
            time.sleep(0.5)
        assert first.poll() is None, "the search ended before it could be killed"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    killed_at = len([t for t in trials_of(tmp_path) if t.state == TrialState.COMPLETE])
    assert 3 <= killed_at < 8

    result = run_script(command, store, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = trials_of(tmp_path)
    assert len(trials) == 8 and {t.state for t in trials} == {TrialState.COMPLETE}
    client, runs = runs_of(store)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = client.get_run(parents[0].info.run_id)
    assert parent.info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    finished = {r.data.tags["job.num"] for r in children if r.info.status == "FINISHED"}
    assert finished == {str(n) for n in range(8)}
    best = max(trials, key=lambda t: t.value)
    assert parent.data.metrics["best_trial.value"] == pytest.approx(best.value)
    assert parent.data.tags["best.optimizer.learning_rate"] == str(
        best.params["optimizer.learning_rate"]
    )
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "optuna")}
    assert logged == {"optuna/best_params.json", "optuna/history.png"}


def trials_of_if_any(tmp_path):
    try:
        return trials_of(tmp_path)
    except KeyError:  # the study is not created yet
        return []


def test_diverged_trials_are_recorded_failed_and_the_study_goes_on(corpus, tmp_path):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    result = run_script(
        search_command(
            corpus,
            tmp_path,
            "hydra.sweeper.n_trials=3",
            "optimizer.learning_rate=1e-3,1e30",
            "optimizer.ema=null",
        ),
        store,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = trials_of(tmp_path)
    assert len(trials) == 3
    for trial in trials:
        diverged = float(trial.params["optimizer.learning_rate"]) > 1
        assert trial.state == (TrialState.FAIL if diverged else TrialState.COMPLETE)
        if diverged:
            assert trial.user_attrs["error"].startswith("TrainingError: the training loss")
    assert {t.state for t in trials} == {TrialState.FAIL, TrialState.COMPLETE}
