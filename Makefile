# The two commands: `make run` and `make test`. Both set up .venv themselves.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
PORT ?= 5000

# imports of sdv/mlflow cost twice as much without bytecode; compile at install, allow caching
unexport PYTHONDONTWRITEBYTECODE
export PATH := $(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1
export DVC_SITE_CACHE_DIR := $(CURDIR)/.dvc/tmp/site-cache
export GIT_PYTHON_REFRESH := quiet

.PHONY: help install run lint test test-fast ui serve retrain bench clean

help:
	@echo "make run      set up .venv, run the whole pipeline (dvc repro) on the built-in data, print the verdict"
	@echo "make test     set up .venv, lint, and run the test suite"
	@echo "make lint     ruff check, ruff format --check (pipeline, tests) and mypy (pipeline); make test runs it first"
	@echo "make ui       open the MLflow UI on http://127.0.0.1:$(PORT)"
	@echo "make serve    serve the registered champion on http://127.0.0.1:$(PORT) (ALIAS=challenger to serve that)"
	@echo "make retrain  scheduled retraining: rerun on new data, promote only a better detector"
	@echo "make bench    run the benchmark scripts (figures go to tests/bench/results/)"

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing packages into $(VENV) (first time: about 2-5 minutes)"
	$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
	$(BIN)/python -m compileall -q -j 2 $(VENV)/lib > /dev/null 2>&1 || true
	@touch $(STAMP)

run: $(STAMP)
	@test -d .git || { echo "error: not a git checkout; DVC needs one (git init && git add -A && git commit)"; exit 2; }
	@# stages run in forks of one process that imported sdv/torch/MLflow once (pipeline/core/warmstart.py)
	$(BIN)/python -m pipeline.core.warmstart dvc repro
	@echo
	@sed -n '3,5p' reports/summary.md
	@echo
	@sed -n '3,5p' reports/scarcity/summary.md
	@echo
	@echo "Results: reports/summary.md (verdict), reports/comparison.csv (every config), reports/plots/*.png,"
	@echo "         reports/scarcity/summary.md and lift_vs_n_frauds.png (below how many known frauds it helps),"
	@echo "         reports/unseen/summary.md and recall_on_unseen_variants.png (attack variants never trained on),"
	@echo "         reports/metrics.json (dvc metrics show), MLflow runs in mlflow/mlflow.db: run 'make ui'."

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests
	$(BIN)/ruff format --check pipeline tests
	$(BIN)/mypy

# pytest-xdist: one worker per core (TEST_WORKERS=0 runs in one process); each test file runs whole on one
# worker, so a file's module-scoped project template is built once
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow" $(PYTEST_ARGS)

ui: $(STAMP)
	@mkdir -p mlflow/artifacts
	@echo "MLflow UI: http://127.0.0.1:$(PORT)  (Ctrl-C to stop)"
	@# MLflow 3 opens an experiment in its GenAI view: print the direct link to the runs table
	@id=$$($(BIN)/python -c 'import json; print(json.load(open("reports/mlflow.json"))["experiment_id"])' 2>/dev/null || true); \
	  if [ -n "$$id" ]; then echo "Runs table of the last published pipeline run: http://127.0.0.1:$(PORT)/#/experiments/$$id/runs"; \
	  else echo "No published run yet (reports/mlflow.json): run 'make run' first"; fi
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db \
	  --default-artifact-root $(CURDIR)/mlflow/artifacts --host 127.0.0.1 --port $(PORT) --workers 1

ALIAS ?= champion
MODEL ?= fraud-detector

serve: $(STAMP)
	@export MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow/mlflow.db}
	@$(BIN)/python -c "import mlflow; mlflow.MlflowClient().get_model_version_by_alias('$(MODEL)', '$(ALIAS)')" \
	  >/dev/null 2>&1 || { echo "error: no model $(MODEL)@$(ALIAS) in $$MLFLOW_TRACKING_URI; run 'make run' (challenger)" \
	  "and 'make retrain' (champion), or serve the challenger with 'make serve ALIAS=challenger'"; exit 2; }
	@echo "Serving models:/$(MODEL)@$(ALIAS) on http://127.0.0.1:$(PORT)/invocations (Ctrl-C to stop)"
	$(BIN)/mlflow models serve -m models:/$(MODEL)@$(ALIAS) --env-manager local --host 127.0.0.1 --port $(PORT)

retrain: $(STAMP)
	$(BIN)/python -m pipeline.core.warmstart $(BIN)/python -m pipeline retrain

bench: $(STAMP)
	$(BIN)/python tests/bench/simulate.py
	$(BIN)/python tests/bench/generators.py
	$(BIN)/python tests/bench/pipeline.py
	$(BIN)/python tests/bench/serving.py
	$(BIN)/python tests/bench/compute.py
	$(BIN)/python tests/bench/evaluate_memory.py

clean:
	rm -rf data/prepared data/synthetic models reports .dvc/tmp
