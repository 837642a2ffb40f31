"""Tasks: what differs between problems (model, loss, metrics, evaluation, artifacts, export)."""

from keraslab.tasks.bert import BertTask
from keraslab.tasks.classification import ClassificationTask
from keraslab.tasks.code_prior import CodePriorTask
from keraslab.tasks.masked_lm import MaskedLMTask
from keraslab.tasks.task import Task
from keraslab.tasks.triples import TripleExtractionTask
from keraslab.tasks.vqvae import VQVAETask

__all__ = [
    "BertTask",
    "ClassificationTask",
    "CodePriorTask",
    "MaskedLMTask",
    "Task",
    "TripleExtractionTask",
    "VQVAETask",
]
