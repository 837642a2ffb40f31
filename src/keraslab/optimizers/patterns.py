"""Variable path patterns that the wrappers share."""

# Variable paths that are not decayed (nor trust-ratio scaled) by default: LayerNorm parameters
# and biases.
NO_DECAY = ("LayerNorm", "layer_norm", "bias$")
