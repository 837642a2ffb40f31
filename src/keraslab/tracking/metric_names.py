"""How Keras's metric names become the tracker's (no Keras import: comparisons and run
summaries read them too)."""

# Keras's prefixes of validation metrics -> ours, longest first.
PREFIXES = (("val_ema_", "valid_ema_"), ("val_", "valid_"))


def tracked_name(keras_name: str) -> str:
    """The tracker's name for a metric of Keras's epoch logs, by rule: ``val_ema_x`` ->
    ``valid_ema_x``, ``val_x`` -> ``valid_x``, any other ``x`` (training) -> ``train_x``."""
    for prefix, ours in PREFIXES:
        if keras_name.startswith(prefix):
            return ours + keras_name[len(prefix) :]
    return f"train_{keras_name}"
