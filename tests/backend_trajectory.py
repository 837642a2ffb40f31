"""Train the default model for a number of updates on one backend and write what it went through.

    python tests/backend_trajectory.py BACKEND DATA_DIR WEIGHTS OUT [overrides ...]

Composes ``conf/config.yaml`` with dropout off and ``overrides``, builds the task's model and
optimizer the way a run does (in ``trainer.precision``), and trains on the training split's first batches in file order
(``train_on_batch``, one update each). The initial weights come from ``WEIGHTS`` (an ``.npz``)
when it exists, else they are written there, so a second backend starts where the first did;
they are drawn with the config's ``seed``, so a test sees the same trajectory every time.
``OUT`` (``.npz``) gets the losses and the weights after the last update, keyed by position and
variable path.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPDATES = 20


def main(backend: str, data_dir: str, weights: str, out: str, *overrides: str) -> None:
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("KERASLAB_ROOT", str(ROOT))
    import numpy as np
    from hydra import compose, initialize_config_dir

    from keraslab.config_checks import instantiate_section
    from keraslab.quiet import import_backend
    from keraslab.training.seeding import seed_everything

    fixed = [f"data.data_dir={data_dir}", "model.encoder.dropout=0", "model.head_dropout=0"]
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = compose("config", [*fixed, *overrides])
    import_backend()
    seed_everything(cfg.seed)  # as a run does: the same initial weights every time
    instantiate_section(cfg, "trainer").set_precision()
    task = instantiate_section(cfg, "model")
    data = instantiate_section(cfg, "data").setup(**task.data_options())
    model = task.build_model(data)
    task.compile(model, instantiate_section(cfg, "optimizer"), jit_compile="auto")

    keys = [f"{i:03d} {w.path}" for i, w in enumerate(model.weights)]
    if Path(weights).is_file():
        with np.load(weights, allow_pickle=False) as initial:
            assert sorted(initial.files) == sorted(keys), "the two models' variables differ"
            model.set_weights([initial[key] for key in keys])
    else:
        np.savez(weights, **dict(zip(keys, model.get_weights(), strict=True)))

    train, size = data.splits["train"], data.batch_size
    losses = [
        float(model.train_on_batch(*train.take(np.arange(i * size, (i + 1) * size)))[0])
        for i in range(UPDATES)
    ]
    final = dict(zip(keys, model.get_weights(), strict=True))
    np.savez(out, losses=np.array(losses), **final)


if __name__ == "__main__":
    main(*sys.argv[1:])
