"""Probes: read tensors computed inside layers (such as attention maps) without rebuilding a model.

A layer opts in by calling ``record_probe(self, "name", tensor)`` in its ``call``. Nothing happens
unless a :class:`ProbeCapture` is active: the check is one Python ``if`` while a function is
traced or run, and no operation is added to the graph, so a model's outputs and step time do
not change.

    with ProbeCapture(model) as capture:
        model(inputs)                                  # eager forward pass
        capture.predict(more_inputs, batch_size=32)    # compiled, batched predict
    capture.results["layer_0/attention/attention_probs"]   # numpy, (N, heads, L, L)

Keys are ``<layer path>/<probe name>``. Several passes are concatenated along the batch axis.
"""

import threading
from collections import defaultdict

import keras
import numpy as np

_active = threading.local()


def record_probe(layer: keras.layers.Layer, name: str, tensor) -> None:
    """Hand ``tensor`` to the active capture, if any, as ``<layer.path>/<name>``."""
    store = getattr(_active, "store", None)
    if store is not None:
        store[f"{layer.path}/{name}"] = tensor


class _ProbedModel(keras.Model):
    """``model`` with its probes as extra outputs, so Keras's own compiled ``predict`` returns them."""

    def __init__(self, model: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.inner = model

    def call(self, inputs):
        outer, _active.store = getattr(_active, "store", None), {}
        try:
            outputs = self.inner(inputs, training=False)
            return {"outputs": outputs, "probes": dict(_active.store)}
        finally:
            _active.store = outer


class ProbeCapture:
    """Collects every probe of ``model`` recorded while the context is open."""

    def __init__(self, model: keras.Model):
        self.model = model
        self._collected: dict[str, list[np.ndarray]] = defaultdict(list)
        self._probed: _ProbedModel | None = None
        self._outer = None

    def __enter__(self) -> "ProbeCapture":
        self._outer, _active.store = getattr(_active, "store", None), {}
        return self

    def __exit__(self, *exc) -> None:
        self._drain()
        _active.store = self._outer

    def _drain(self) -> None:
        for key, tensor in _active.store.items():
            self._collected[key].append(keras.ops.convert_to_numpy(tensor))
        _active.store.clear()

    def predict(self, inputs, batch_size: int = 32, **kwargs):
        """``model.predict`` (compiled, batched) that also collects the probes; returns the outputs."""
        self._drain()  # keep eager results apart from what predict returns
        if self._probed is None:
            self._probed = _ProbedModel(self.model, name=f"{self.model.name}_probed")
        result = self._probed.predict(inputs, batch_size=batch_size, verbose=0, **kwargs)
        for key, value in result["probes"].items():
            self._collected[key].append(np.asarray(value))
        return result["outputs"]

    @property
    def results(self) -> dict[str, np.ndarray]:
        """Each probe's values from every pass, concatenated along the batch axis."""
        if getattr(_active, "store", None):
            self._drain()
        return {key: np.concatenate(parts) for key, parts in self._collected.items()}
