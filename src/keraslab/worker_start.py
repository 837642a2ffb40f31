"""What a sweep's worker processes import before their first job, imported once by the server
of ``hydra/launcher=forkserver`` (:mod:`hydra_plugins.keraslab_forkserver_launcher`), whose
workers are forked from it: :mod:`keraslab.worker_imports` (MLflow and the run's entry module)
and Keras with its backend (the sweep's ``backend``, in ``KERAS_BACKEND`` before the server
starts): with TensorFlow, seconds of CPU time that no worker spends again.

Then the server's objects are frozen (:func:`gc.freeze`, as the ``gc`` documentation advises
before a fork): a worker's garbage collections skip the half a million objects the imports
made, instead of walking them (and copying the memory pages they lie on) in every full
collection."""

import gc

import keraslab.worker_imports  # noqa: F401
from keraslab.quiet import import_backend

import_backend()
gc.freeze()
