"""Masked-language-model pre-training: BERT with Google's ``cls/predictions`` head."""

from keraslab.tasks.bert import BertTask


class MaskedLMTask(BertTask):
    """Predicts the original token at each masked position
    (:class:`~keraslab.models.MaskedLanguageModel`, with :class:`~keraslab.data.MaskedTextData`):
    cross-entropy over the masked positions only (the padding of ``max_predictions`` weighs 0),
    validated by accuracy at those positions. ``export=google|hf`` writes the encoder and its
    head as a checkpoint that fine-tuning loads.
    """

    def build(self, vocab_size: int):
        from keraslab.models import build_masked_lm

        return build_masked_lm(vocab_size, self.encoder)
