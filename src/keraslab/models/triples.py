"""Triple extraction on BERT: bert4keras's subject / object pointer network ("half pointer, half
tagging") with a conditional LayerNorm that brings the subject into the object head.

With ``r`` the residual sum of the encoder's last block before its output LayerNorm and
``H = LN(r)`` the encoder's output:

- subjects: ``p_subject = sigmoid(H W_s + b_s) ** 2`` (L, 2): start and end marks;
- one subject's first and last token vectors of ``H`` make the condition ``c = [H_i; H_j]``;
- objects: ``p_object = sigmoid(CLN(r, c) W_o + b_o) ** 4`` reshaped to (L, P, 2), a start and
  an end mark per position and predicate.

Where the conditional LayerNorm sits, and why: it takes the place of the last block's output
LayerNorm for the object branch (bert4keras reads ``layers[-2]`` for this), with that LayerNorm's
gamma and beta and zero-initialised shifts. So at the first step the object head reads exactly the
encoder's output ``H``, pre-trained or not, and the subject only rescales and shifts each feature
of every token as training finds useful, without a new layer on top of the encoder.
The powers push the initial probabilities toward 0, which weighs the rare positive marks up.
"""

from collections.abc import Mapping

import keras
from keras import layers, ops

from keraslab.models.bert import BertBackbone, encoder_from_config
from keraslab.models.conditional_layer_norm import ConditionalLayerNorm
from keraslab.models.layers import bert_initializer
from keraslab.models.task_model import BackboneTaskModel

SUBJECT_POWER, OBJECT_POWER = 2, 4


@keras.saving.register_keras_serializable(package="keraslab")
class TripleExtractor(BackboneTaskModel):
    """Inputs: the encoder's (``token_ids``, ``segment_ids``, ``padding_mask``) and
    ``subject_ids`` (B, 2), one subject's first and last token. Outputs ``subject`` (B, L, 2) and
    ``object`` (B, L, P, 2) probabilities (already raised to their powers).

    Decoding runs the two halves apart: ``subject_model`` (encoder inputs -> ``residual``,
    ``subject``) once per sentence, and ``object_model`` (``residual``, ``subject_ids`` ->
    ``object``) once for all the subjects found, each row a subject with its sentence's residual.
    """

    def __init__(self, backbone: BertBackbone, num_predicates: int, **kwargs):
        width = backbone.architecture["hidden_size"]
        last_block = backbone.transformer_layers[-1]
        output_norm = last_block.output_layer_norm
        encoder_inputs = backbone.input
        hidden = backbone.embeddings(encoder_inputs["token_ids"], encoder_inputs["segment_ids"])
        for block in backbone.transformer_layers[:-1]:
            hidden = block(hidden, encoder_inputs["padding_mask"])
        residual = last_block(hidden, encoder_inputs["padding_mask"], normalize=False)
        subject_head = layers.Dense(
            2, activation="sigmoid", kernel_initializer=bert_initializer(), name="subject_head"
        )
        subject = ops.power(subject_head(output_norm(residual)), SUBJECT_POWER)
        subject_model = keras.Model(
            encoder_inputs, {"residual": residual, "subject": subject}, name="subject_model"
        )

        branch_residual = keras.Input((None, width), name="residual")
        branch_subject_ids = keras.Input((2,), dtype="int32", name="subject_ids")
        sequence = output_norm(branch_residual)
        ends = ops.take_along_axis(sequence, branch_subject_ids[:, :, None], axis=1)  # (S, 2, d)
        condition = ops.reshape(ends, (-1, 1, 2 * width))
        object_norm = ConditionalLayerNorm(
            backbone.architecture["layer_norm_epsilon"], name="object_norm"
        )
        object_head = layers.Dense(
            2 * num_predicates,
            activation="sigmoid",
            kernel_initializer=bert_initializer(),
            name="object_head",
        )
        marks = object_head(object_norm(branch_residual, condition))
        objects = layers.Reshape((-1, num_predicates, 2), name="object_marks")(
            ops.power(marks, OBJECT_POWER)
        )
        object_model = keras.Model(
            {"residual": branch_residual, "subject_ids": branch_subject_ids},
            objects,
            name="object_model",
        )

        subject_ids = keras.Input((2,), dtype="int32", name="subject_ids")
        halves = subject_model(encoder_inputs)
        outputs = {
            "subject": halves["subject"],
            "object": object_model({"residual": halves["residual"], "subject_ids": subject_ids}),
        }
        super().__init__({**encoder_inputs, "subject_ids": subject_ids}, outputs, **kwargs)
        self.backbone = backbone
        self.num_predicates = num_predicates
        self.subject_model = subject_model
        self.object_model = object_model
        self.object_norm = object_norm
        # The heads read the token vectors, not the pooler's output: nothing trains the pooler.
        backbone.pooler.trainable = False

    def head_config(self) -> dict:
        return {"num_predicates": self.num_predicates}


@keras.saving.register_keras_serializable(package="keraslab")
def masked_pointer_loss(y_true, y_pred):
    """Binary cross-entropy of the marks, averaged over the tokens a -1 target does not mask.

    ``y_true`` / ``y_pred`` are (B, L, 2) or (B, L, P, 2); a token's loss is the mean over its
    start and end marks, summed over predicates, and the batch's loss is
    ``sum(token loss * known) / sum(known)`` with ``known`` the tokens whose targets are not -1
    (bert4keras's masked mean over the padding mask)."""
    known = ops.cast(y_true >= 0, y_pred.dtype)
    entropy = ops.binary_crossentropy(ops.maximum(y_true, 0.0), y_pred)
    per_token = ops.mean(entropy, axis=-1)
    token_known = known[..., 0]
    if len(y_pred.shape) == 4:
        per_token, token_known = ops.sum(per_token, axis=-1), token_known[..., 0]
    return ops.sum(per_token * token_known) / ops.maximum(ops.sum(token_known), 1.0)


def build_triple_extractor(
    vocab_size: int, num_predicates: int, encoder: Mapping
) -> TripleExtractor:
    """A :class:`TripleExtractor` over an encoder built from ``encoder`` (options, or a checkpoint
    whose weights are loaded); the conditional LayerNorm starts from the encoder's last one."""
    backbone, checkpoint = encoder_from_config(vocab_size, encoder)
    if checkpoint is not None:
        checkpoint.load_into(backbone)
    model = TripleExtractor(backbone, num_predicates, name="triple_extractor")
    model.object_norm.copy_norm(backbone.transformer_layers[-1].output_layer_norm)
    return model
