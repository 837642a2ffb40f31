"""keraslab: Hydra-composed Keras 3 experiments tracked in MLflow.

Importing the package is cheap: nothing here imports Keras or TensorFlow, so composing
configs (``scripts/run.py --help``, ``--cfg job``) stays fast.

It sets one TensorFlow default, read when TensorFlow is first imported (so import keraslab
before keras): ``TF_ENABLE_ONEDNN_OPTS=1``. TensorFlow turns its oneDNN kernels (AVX2 MatMul and
BatchMatMul, fused element-wise ops) on by default only on some x86 CPUs; without them the
stock wheel runs matrix products on SSE code. On the project's 2-core AMD EPYC machine they take
the BERT training step from 1.10x to 0.84x transformers/torch's time
(``benchmarks/results/bert_step_tensorflow*.md``). Set ``TF_ENABLE_ONEDNN_OPTS=0`` to opt out.

It also turns MLflow's usage telemetry off (``MLFLOW_DISABLE_TELEMETRY=true``, unless set), in
every script, job and worker that uses the package: nothing a run does leaves the machine.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

__version__ = "0.1.0"
