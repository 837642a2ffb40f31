"""Triple extraction pieces that need no model: spans <-> tokens, pointer decoding, targets, scores."""
