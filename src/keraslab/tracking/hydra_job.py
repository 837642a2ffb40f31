"""What Hydra knows about the current job: its overrides, config-group choices, job number and
sweep folder."""

from dataclasses import dataclass, field
from pathlib import Path

PARENT_RUN_FILE = ".mlflow_parent_run_id"


@dataclass(frozen=True)
class HydraJob:
    """The current job; outside a Hydra app (a test calling the library) everything is empty."""

    overrides: list[str] = field(default_factory=list)
    choices: dict[str, str] = field(default_factory=dict)  # config group -> option, hydra/ excluded
    num: int | None = None
    sweep_dir: Path | None = None
    output_dir: Path | None = None

    @property
    def is_multirun(self) -> bool:
        return self.sweep_dir is not None

    @property
    def parent_run_file(self) -> Path | None:
        return self.sweep_dir / PARENT_RUN_FILE if self.sweep_dir else None


def current_job() -> HydraJob:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return HydraJob()
    hydra = HydraConfig.get()
    multirun = hydra.mode == RunMode.MULTIRUN
    return HydraJob(
        overrides=list(hydra.overrides.task),
        choices={
            group: str(option)
            for group, option in hydra.runtime.choices.items()
            if not group.startswith("hydra/") and option is not None
        },
        num=hydra.job.num if multirun else None,
        sweep_dir=Path(hydra.sweep.dir) if multirun else None,
        output_dir=Path(hydra.runtime.output_dir),
    )
