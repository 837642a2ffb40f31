"""A task defined only in the tests: linear regression on CSV numbers, with MSE and MAE.

It shows what a new task is: a task class, a data module and two config files (written by
:func:`write_configs` into a folder that ``hydra.searchpath`` adds), and nothing else. The run
path, the trainer, tracking, resume and ``scripts/evaluate.py`` take it as they are.
"""

from pathlib import Path
from typing import ClassVar

import numpy as np

from keraslab.config_checks import Check, integer, one_of, string
from keraslab.data import DataModule, EncodedSplit
from keraslab.errors import DataError
from keraslab.tasks import Task

WEIGHTS = np.array([0.5, -1.0, 2.0], np.float32)
BIAS = 0.25


def write_numbers(path: Path, rows: int, seed: int) -> Path:
    """``x1,x2,x3,y`` lines with ``y = WEIGHTS . x + BIAS + noise``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(WEIGHTS))).astype(np.float32)
    y = x @ WEIGHTS + BIAS + rng.normal(scale=0.05, size=rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(",".join(f"{v:.6f}" for v in (*r, t)) + "\n" for r, t in zip(x, y, strict=True))
    )
    return path


class NumbersData(DataModule):
    """``train.csv``, ``valid.csv`` and ``test.csv`` in ``data_dir``: features, then the target."""

    config_checks: ClassVar[dict[str, Check]] = {"data_dir": string, "batch_size": integer(1)}

    def __init__(self, data_dir: str, batch_size: int = 16):
        super().__init__(batch_size)
        self.data_dir = Path(data_dir)
        self.num_features = None

    @property
    def model_arguments(self) -> dict:
        return {"num_features": self.num_features}

    def setup(self) -> "NumbersData":
        for split in ("train", "valid", "test"):
            self.read_split(self.data_dir / f"{split}.csv", split)
        return self

    def restore(self, folder: Path) -> "NumbersData":
        self.num_features = int((Path(folder) / "features.txt").read_text())
        return self

    def artifacts(self) -> dict[str, str]:
        return {"features.txt": str(self.num_features)}

    def read_split(self, path: Path, name: str) -> EncodedSplit:
        if not Path(path).is_file():
            raise DataError(f"{path} is not a file; expected x1,...,xn,y lines.")
        rows = []
        for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
            try:
                rows.append([float(v) for v in line.split(",")])
            except ValueError:
                raise DataError(
                    f"{path}:{number}: expected numbers separated by commas, got {line!r}."
                ) from None
        table = np.asarray(rows, np.float32)
        self.num_features = table.shape[1] - 1
        self.examples[name] = rows
        self.splits[name] = EncodedSplit({"x": table[:, :-1]}, table[:, -1:])
        return self.splits[name]


class RegressionTask(Task):
    """``y = W x + b`` by mean squared error; also reports the mean absolute error. Logs the
    valid split's residuals as its own artifact."""

    monitor = "val_loss"
    metric_modes: ClassVar[dict[str, str]] = {"loss": "min", "mae": "min"}
    config_checks: ClassVar[dict[str, Check]] = {"use_bias": one_of(True, False)}

    def __init__(self, use_bias: bool = True):
        self.use_bias = use_bias

    def build(self, num_features: int):
        import keras

        inputs = {"x": keras.Input((num_features,), name="x")}
        return keras.Model(
            inputs,
            keras.layers.Dense(1, use_bias=self.use_bias, name="linear")(inputs["x"]),
            name="regression",
        )

    def compile(self, model, optimizer, jit_compile="auto") -> None:
        import keras

        model.compile(
            optimizer=optimizer,
            loss="mse",
            metrics=[keras.metrics.MeanAbsoluteError(name="mae")],
            jit_compile=jit_compile,
        )

    def log_artifacts(self, model, data, loader, tracker, folder: Path) -> None:
        from keraslab.loaders.keras_input import keras_input

        batches = data.batches("valid", seed=0)
        with keras_input(batches, loader) as inputs:
            predicted = model.predict(inputs, steps=len(batches), verbose=0)[:, 0]
        gold = np.asarray(data.gold("valid"))[:, -1]
        path = Path(folder) / "residuals.txt"
        path.write_text("".join(f"{r:.6f}\n" for r in gold - predicted))
        tracker.log_artifact(path, "regression")


def write_configs(folder: Path, data_dir: Path) -> Path:
    """``model/regression.yaml`` and ``data/numbers.yaml`` for ``hydra.searchpath``."""
    (folder / "model").mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "model" / "regression.yaml").write_text("_target_: toy_regression.RegressionTask\n")
    (folder / "data" / "numbers.yaml").write_text(
        f"_target_: toy_regression.NumbersData\ndata_dir: {data_dir}\nbatch_size: 16\n"
    )
    return folder
