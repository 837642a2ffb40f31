"""A sweep's jobs side by side: what each swept, its objective and its test scores.

The parent run of a sweep holds the sweep's definition (params ``sweep.<key>``); each child
holds its params and, as tags, the metric it returns (``objective``, with ``objective_mode``)
and its validation monitor. :func:`load_comparison` reads them into a :class:`Comparison`,
rows sorted best first by the objective; :func:`publish` writes it as Markdown and a PNG
(the objective per job, and each job's monitored validation metric per epoch), logs both to
the parent run with the table as the parent's description, and the best child's value as the
parent's metric ``best_job.<objective>``.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from keraslab.tracking.hydra_job import PARENT_RUN_FILE
from keraslab.tracking.metric_names import tracked_name

NOTE_TAG = "mlflow.note.content"  # the run description the MLflow UI shows and edits
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"  # which artifacts the UI shows as tables


@dataclass
class Row:
    run_id: str
    job: str
    status: str
    swept: dict[str, str]
    objective: float
    tests: dict[str, float] = field(default_factory=dict)
    per_epoch: dict[str, list[float]] = field(default_factory=dict)  # metric -> value by epoch


@dataclass
class Comparison:
    parent_id: str
    parent_name: str
    swept: list[str]
    objective: str
    mode: str
    monitor: str | None
    rows: list[Row]
    per_epoch: list[str] = field(default_factory=list)

    @property
    def best(self) -> Row | None:
        finite = [row for row in self.rows if math.isfinite(row.objective)]
        return finite[0] if finite else None

    @property
    def tests(self) -> list[str]:
        return sorted({name for row in self.rows for name in row.tests})

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Header and cells: job, each swept key, each per-epoch metric (``a / b / c``), the
        objective (best marked ``*``; no column for runs that did not tag one), tests."""
        objective = [f"{self.objective} ({self.mode})"] if self.objective else []
        header = [
            "job",
            *self.swept,
            *(f"{name} by epoch" for name in self.per_epoch),
            *objective,
            *self.tests,
            "status",
        ]
        best = self.best
        cells = [
            [
                row.job,
                *(row.swept.get(key, "") for key in self.swept),
                *(" / ".join(map(_number, row.per_epoch.get(name, []))) for name in self.per_epoch),
                *([_number(row.objective) + (" *" if row is best else "")] if objective else []),
                *(_number(row.tests[name]) if name in row.tests else "" for name in self.tests),
                row.status,
            ]
            for row in self.rows
        ]
        return header, cells

    def columns(self) -> dict[str, list]:
        """The table as columns of raw values (numbers stay numbers), for ``log_table``."""
        columns: dict[str, list] = {
            "job": [row.job for row in self.rows],
            **{key: [row.swept.get(key, "") for row in self.rows] for key in self.swept},
            **{
                f"{name} by epoch": [row.per_epoch.get(name, []) for row in self.rows]
                for name in self.per_epoch
            },
            **({self.objective: [row.objective for row in self.rows]} if self.objective else {}),
            **{name: [row.tests.get(name, math.nan) for row in self.rows] for name in self.tests},
            "status": [row.status for row in self.rows],
            "run_id": [row.run_id for row in self.rows],
        }
        return columns

    def text(self) -> str:
        header, cells = self.table()
        widths = [max(len(c) for c in column) for column in zip(header, *cells, strict=True)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
            for line in [header, ["-" * w for w in widths], *cells]
        ]
        return "\n".join([f"{self.parent_name} ({self.parent_id}), best marked *", *lines])

    def markdown(self) -> str:
        header, cells = self.table()
        rows = [[c.replace(" *", " **best**") for c in line] for line in cells]
        order = f"sorted by {self.objective} ({self.mode})" if self.objective else "by job"
        return "\n".join(
            [
                f"{self.parent_name}: {len(self.rows)} jobs, {order}",
                "",
                "| " + " | ".join(header) + " |",
                "| " + " | ".join("---" for _ in header) + " |",
                *("| " + " | ".join(line) + " |" for line in rows),
            ]
        )


def _number(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "nan"


def find_parent(client, target: str) -> str:
    """The parent run id that ``target`` names: a sweep folder (its parent-run file), a run id,
    or an experiment name (its latest sweep)."""
    folder = Path(target)
    if (folder / PARENT_RUN_FILE).is_file():
        return json.loads((folder / PARENT_RUN_FILE).read_text())["run_id"]
    experiment = client.get_experiment_by_name(target)
    if experiment is not None:
        children = client.search_runs(
            [experiment.experiment_id],
            filter_string="tags.mlflow.parentRunId != ''",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if children:
            return children[0].data.tags["mlflow.parentRunId"]
        raise LookupError(f"experiment {target!r} has no sweep (no run with children)")
    try:
        return client.get_run(target).info.run_id
    except Exception as error:  # MlflowException: no such run
        raise LookupError(
            f"{target!r} is not a sweep folder (no {PARENT_RUN_FILE}), an experiment name or a "
            "run id in this store"
        ) from error


def load_comparison(client, parent_id: str, per_epoch: list[str] = ()) -> Comparison:
    """The sweep under ``parent_id``; ``per_epoch`` names metrics logged once an epoch
    (``valid_accuracy``, ``train_loss``) whose every value becomes a column."""
    parent = client.get_run(parent_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    if not children:
        raise LookupError(f"run {parent_id} has no child runs: it is not a sweep's parent")
    children = latest_per_job(children)
    swept = [k.removeprefix("sweep.") for k in sorted(parent.data.params) if k.startswith("sweep.")]
    if not swept:  # a sweep from before the definition was logged: what differs
        keys = {key for child in children for key in child.data.params}
        swept = sorted(
            k
            for k in keys
            if len({c.data.params.get(k) for c in children}) > 1 and not k.startswith("paths.")
        )
    tags = children[0].data.tags
    objective = tags.get("objective", "")
    mode = tags.get("objective_mode", "max")
    rows = [
        Row(
            run_id=child.info.run_id,
            job=child.data.tags.get("job.num", ""),
            status=child.info.status,
            swept={key: swept_value(child.data.params, key) for key in swept},
            objective=child.data.metrics.get(objective, math.nan),
            tests={k: v for k, v in child.data.metrics.items() if k.startswith("test_")},
            per_epoch={name: _by_step(client, child.info.run_id, name) for name in per_epoch},
        )
        for child in children
    ]
    sign = -1 if mode == "max" else 1
    rows.sort(
        key=lambda r: (
            not math.isfinite(r.objective),
            sign * _finite(r.objective),
            int(r.job) if r.job.isdigit() else math.inf,
        )
    )
    return Comparison(
        parent_id,
        parent.info.run_name,
        swept,
        objective,
        mode,
        tags.get("monitor"),
        rows,
        list(per_epoch),
    )


def _by_step(client, run_id: str, name: str) -> list[float]:
    return [m.value for m in sorted(client.get_metric_history(run_id, name), key=lambda m: m.step)]


def latest_per_job(children: list) -> list:
    """One run per job number (tag ``job.num``), the latest started: a job run again after an
    interruption replaces its earlier run. Runs without a job number are all kept."""
    latest, loose = {}, []
    for child in children:
        job = child.data.tags.get("job.num")
        if job is None:
            loose.append(child)
        elif job not in latest or child.info.start_time > latest[job].info.start_time:
            latest[job] = child
    return [*latest.values(), *loose]


def swept_value(params: dict[str, str], key: str) -> str:
    """A job's value of a swept key: the param itself; for a config group
    (``optimizer=adam,lookahead``) the choice it logged as ``choice.<group>``; for a mapping
    (``optimizer.schedule={300:1.0}``, flattened to ``optimizer.schedule.300``) its entries."""
    if key in params:
        return params[key]
    if f"choice.{key}" in params:
        return params[f"choice.{key}"]
    entries = [
        f"{k.removeprefix(key + '.')}: {v}"
        for k, v in sorted(params.items())
        if k.startswith(key + ".")
    ]
    return "{" + ", ".join(entries) + "}" if entries else ""


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def save_plot(client, comparison: Comparison, path: Path) -> Path:
    """Left: the objective per job (best first); right: each job's monitored validation
    metric per epoch (x: optimizer updates)."""
    from keraslab.image_files import pyplot, save_figure

    figure, (bars, curves) = pyplot().subplots(1, 2, figsize=(12, 4))
    labels = [" ".join(f"{v}" for v in row.swept.values()) or row.job for row in comparison.rows]
    bars.barh(range(len(labels)), [_finite(row.objective) for row in comparison.rows])
    bars.set_yticks(range(len(labels)), labels)
    bars.invert_yaxis()
    bars.set_xlabel(comparison.objective)
    if comparison.monitor:
        name = tracked_name(comparison.monitor)
        for row, label in zip(comparison.rows, labels, strict=True):
            history = client.get_metric_history(row.run_id, name)
            history = sorted(history, key=lambda m: m.step)
            curves.plot(
                [m.step for m in history], [m.value for m in history], marker="o", label=label
            )
        curves.set_xlabel("optimizer updates")
        curves.set_ylabel(name)
        curves.legend(fontsize="small")
    figure.suptitle(comparison.parent_name)
    return save_figure(figure, path)


def _log_table(client, run_id: str, columns: dict[str, list], path: Path) -> None:
    """``columns`` as an MLflow table artifact, replacing an earlier one (``log_table`` would
    append to it, and a sweep compared twice would list its jobs twice): the same JSON
    (``{"columns", "data"}``, NaN as null) and the ``mlflow.loggedArtifacts`` entry that
    makes the UI show it as a table."""
    rows = [
        [None if isinstance(v, float) and not math.isfinite(v) else v for v in row]
        for row in zip(*columns.values(), strict=True)
    ]
    path.write_text(json.dumps({"columns": list(columns), "data": rows}), encoding="utf-8")
    client.log_artifact(run_id, str(path), "comparison")
    logged = json.loads(client.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    entry = {"path": f"comparison/{path.name}", "type": "table"}
    if entry not in logged:
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*logged, entry]))


def publish(client, comparison: Comparison, folder: Path) -> list[Path]:
    """``comparison.md`` and ``comparison.png`` in ``folder``, logged to the parent run with the
    table as an MLflow table (``comparison/comparison.json``, the UI's evaluation view); the
    table becomes the parent's description; the best job's value is the parent's metric
    ``best_job.<objective>``, its run id the tag ``best_job.run_id``."""
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "comparison.md"
    table.write_text(comparison.markdown() + "\n", encoding="utf-8")
    plot = save_plot(client, comparison, folder / "comparison.png")
    for path in (table, plot):
        client.log_artifact(comparison.parent_id, str(path), "comparison")
    _log_table(client, comparison.parent_id, comparison.columns(), folder / "comparison.json")
    client.set_tag(comparison.parent_id, NOTE_TAG, comparison.markdown())
    best = comparison.best
    if best is not None:
        client.log_metric(comparison.parent_id, f"best_job.{comparison.objective}", best.objective)
        client.set_tag(comparison.parent_id, "best_job.run_id", best.run_id)
    return [table, plot]
