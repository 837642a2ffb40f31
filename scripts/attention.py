"""Render the attention maps of one sentence to a PNG and log it to MLflow.

    python scripts/attention.py --text "这家酒店很干净" --run-dir outputs/runs/2026-11-24/23-44-00
    python scripts/attention.py --text "The cat sat on the mat." --hf-folder minilm --layer 5

``--run-dir``: a classifier run of scripts/run.py (its best checkpoint and vocab); the PNG is
logged to that run. ``--hf-folder``: a Hugging Face BERT folder or ``minilm``; the PNG goes to a
new run of the MLflow experiment ``attention``. One panel per head of the chosen layer.
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
DEFAULT_URI = f"sqlite:///{ROOT}/outputs/mlflow.db"


def load_classifier_run(run_dir: Path, text: str, maxlen: int):
    """Model, inputs, token labels and MLflow run id of a scripts/run.py classifier run."""
    from omegaconf import OmegaConf

    from keraslab.tokenizers import WordPieceTokenizer
    from keraslab.tokenizers.for_encoder import tokenizer_for_encoder
    from keraslab.training import Trainer

    model = Trainer.restore(run_dir / "checkpoints" / "best.keras", compile=False)
    maxlen = min(maxlen, getattr(model, "backbone", model).architecture["max_positions"])
    encoder = OmegaConf.load(run_dir / ".hydra" / "config.yaml").model.encoder
    tokenizer = tokenizer_for_encoder(encoder) or WordPieceTokenizer(
        run_dir / "vocab.txt", lowercase=False
    )
    inputs = tokenizer.encode_batch([text], maxlen=maxlen)
    length = int(inputs["padding_mask"].sum())
    labels = [tokenizer.tokens[i] for i in inputs["token_ids"][0, :length]]
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    return model, inputs, labels, state["mlflow_run_id"]


def load_hf_model(folder: str, text: str, maxlen: int):
    """Model, inputs and token labels of a Hugging Face BERT folder; no MLflow run yet."""
    from keraslab.checkpoints import load_hf_weights
    from keraslab.checkpoints.hf import read_hf_config
    from keraslab.checkpoints.pretrained import pretrained_folder
    from keraslab.models import BertBackbone, bert_options
    from keraslab.tokenizers import WordPieceTokenizer

    path = pretrained_folder(folder)
    model = BertBackbone(**bert_options(read_hf_config(path)))
    load_hf_weights(model, path)
    maxlen = min(maxlen, getattr(model, "backbone", model).architecture["max_positions"])
    tokenizer = WordPieceTokenizer(path / "vocab.txt")
    inputs = tokenizer.encode_batch([text], maxlen=maxlen)
    length = int(inputs["padding_mask"].sum())
    return model, inputs, [tokenizer.tokens[i] for i in inputs["token_ids"][0, :length]], None


def plot_heads(probs, labels: list[str], title: str, path: Path) -> Path:
    """One heatmap per head: rows are queries, columns keys."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    cjk = [
        f.name
        for f in font_manager.fontManager.ttflist
        if "CJK" in f.name or "Noto Sans SC" in f.name
    ]
    if cjk:
        plt.rcParams["font.family"] = cjk[0]
    heads, n = probs.shape[0], len(labels)
    columns = min(heads, 4)
    rows = -(-heads // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows), squeeze=False)
    for head, axis in enumerate(axes.flat):
        axis.set_visible(head < heads)
        if head < heads:
            axis.imshow(probs[head, :n, :n], cmap="viridis", vmin=0, vmax=1)
            axis.set_title(f"head {head}", fontsize=9)
            axis.set_xticks(range(n), labels, rotation=90, fontsize=6)
            axis.set_yticks(range(n), labels, fontsize=6)
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", type=Path, help="a scripts/run.py classifier run folder")
    source.add_argument("--hf-folder", help="a Hugging Face BERT folder, or 'minilm'")
    parser.add_argument("--layer", type=int, default=-1, help="layer index (default: the last)")
    parser.add_argument("--maxlen", type=int, default=64)
    parser.add_argument(
        "--out", type=Path, help="PNG path (default: outputs/attention/<layer>.png)"
    )
    parser.add_argument(
        "--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI)
    )
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args(argv)

    from keraslab.errors import InputError
    from keraslab.probes import ProbeCapture

    try:
        if args.run_dir:
            model, inputs, labels, run_id = load_classifier_run(
                args.run_dir, args.text, args.maxlen
            )
        else:
            model, inputs, labels, run_id = load_hf_model(args.hf_folder, args.text, args.maxlen)
    except (InputError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # A classifier computes its last block at [CLS] alone; its backbone gives every position's maps
    encoder = getattr(model, "backbone", model)
    with ProbeCapture(encoder) as capture:
        encoder(inputs)
    maps = {
        key.split("/")[0]: value
        for key, value in capture.results.items()
        if key.endswith("attention_probs")
    }
    names = sorted(maps, key=lambda name: int(name.rsplit("_", 1)[1]))
    layer = names[args.layer] if -len(names) <= args.layer < len(names) else None
    if layer is None:
        print(
            f"error: --layer must be in [{-len(names)}, {len(names)}), got {args.layer}",
            file=sys.stderr,
        )
        return 2
    out = args.out or ROOT / "outputs" / "attention" / f"{layer}.png"
    plot_heads(maps[layer][0], labels, f"{layer}: {args.text[:40]}", out)
    print(f"attention maps of {layer} written to {out}")
    if not args.no_mlflow:
        from mlflow import MlflowClient

        client = MlflowClient(args.tracking_uri)
        if run_id is None:
            experiment = client.get_experiment_by_name("attention") or client.get_experiment(
                client.create_experiment("attention")
            )
            run_id = client.create_run(
                experiment.experiment_id, run_name=args.text[:60]
            ).info.run_id
            client.log_param(run_id, "hf_folder", args.hf_folder)
            client.log_param(run_id, "text", args.text[:500])
            client.set_terminated(run_id, "FINISHED")
        client.log_artifact(run_id, str(out), "attention")
        print(f"logged to MLflow run {run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
