"""The contract every data module keeps, for text and images alike.

A data module reads its files (``setup``), hands out encoded splits and batches, tells the task's
model builder what it needs (``model_arguments``), keeps each split's raw gold examples for
metrics that need them, and names the files a run must keep to read new data the same way later
(``artifacts``, such as a vocab). The run path and ``scripts/evaluate.py`` use only this.
"""

from collections.abc import Sequence
from pathlib import Path

from keraslab.data.encoded import EncodedSplit


class DataModule:
    """Splits (``train`` and ``valid``, ``test`` when present) and how to batch them.

    Subclasses implement :meth:`setup`, :meth:`restore` and :meth:`read_split`, and fill
    ``splits`` (name -> :class:`EncodedSplit`) and ``examples`` (name -> raw gold examples, in
    the split's order).
    """

    batch_size: int
    length_grouping: int | None = None  # batches of similar lengths (SplitBatches)

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.splits: dict[str, EncodedSplit] = {}
        self.examples: dict[str, Sequence] = {}

    def setup(self, **options) -> "DataModule":
        """Read and encode every split; ``options`` come from the task (e.g. its tokenizer)."""
        raise NotImplementedError

    def restore(self, folder: Path) -> "DataModule":
        """Get ready to read new files as the run that wrote :meth:`artifacts` to ``folder`` did,
        without reading the training data."""
        raise NotImplementedError

    def read_split(self, path: Path, name: str) -> EncodedSplit:
        """Read ``path`` (a file in this data's format) as split ``name``; checks every line."""
        raise NotImplementedError

    @property
    def model_arguments(self) -> dict:
        """What the task's model builder needs from the data (a vocab size, a number of classes)."""
        return {}

    def artifacts(self) -> dict[str, str]:
        """Files (name -> text) a run keeps beside its checkpoints: what :meth:`restore` reads."""
        return {}

    def gold(self, split: str) -> Sequence:
        """The raw examples of ``split``, in the order its batches hold them."""
        return self.examples[split]

    def batches(self, split: str, seed: int, share: tuple[int, int] = (0, 1)):
        """``split`` as :class:`~keraslab.loaders.SplitBatches` of ``batch_size``; shuffled each
        epoch only for ``train``; with ``length_grouping``, ``train`` grouped by length within
        chunks and the other splits sorted by length; ``share``: a data-parallel worker's part
        of each batch."""
        from keraslab.loaders.batches import SplitBatches

        train = split == "train"
        return SplitBatches(
            self.splits[split],
            self.batch_size,
            shuffle=train,
            seed=seed,
            group_by_length=self.length_grouping,
            share=share,
        )
