"""Fit the tests' tiny classifier for 3 epochs on batches cut to their longest text, on one
backend, and print (JSON) the batch widths the epochs held and how many times Keras traced the
attention layer's Python code while training (one per graph it builds):

    python tests/bucket_traces.py BACKEND DATA_DIR
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main(backend: str, data_dir: str) -> None:
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("KERASLAB_ROOT", str(ROOT))
    from conftest import TINY_MODEL
    from hydra import compose, initialize_config_dir

    from keraslab.config_checks import instantiate_section
    from keraslab.loaders import InlineLoader
    from keraslab.loaders.keras_input import keras_input
    from keraslab.models.layers import SelfAttention

    overrides = [f"data.data_dir={data_dir}", "data.min_char_count=1", *TINY_MODEL]
    overrides += ["data.maxlen=64", "data.pad_to_multiple=8", "data.length_grouping=2"]
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = compose("config", overrides)
    task = instantiate_section(cfg, "model")
    data = instantiate_section(cfg, "data").setup(**task.data_options())
    model = task.build_model(data)
    task.compile(model, instantiate_section(cfg, "optimizer"), jit_compile=True)
    batches = data.batches("train", seed=0)
    widths = sorted(
        {
            batches.batch(e, i)[0]["token_ids"].shape[1]
            for e in range(3)
            for i in range(len(batches))
        }
    )

    traces = []
    original = SelfAttention.call

    def counted(self, *args, **kwargs):
        traces.append(str(args[0].shape[1]))
        return original(self, *args, **kwargs)

    SelfAttention.call = counted
    with keras_input(batches, InlineLoader(), endless=True) as stream:
        model.fit(stream, epochs=3, steps_per_epoch=len(batches), verbose=0)
    print(json.dumps({"widths": widths, "traces": traces, "batches": len(batches)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
