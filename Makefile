# Two commands do all the set-up on a fresh machine with Python 3.11 and pip:
#   make run    build .venv if missing, install, backfill the whole bundled history as one run on
#               the persistent Dagster instance in .dagster_home, print a summary
#   make test   build .venv if missing, install, run the test suite in two worker processes (one per core)
#   make cluster-demo  a year's backfill on PostgreSQL, S3 (moto) and a Dask scheduler with two workers, one
#               killed mid-run, compared with the embedded default (docs/deployment.md)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
START ?= 1990-01-02
END ?= 2022-12-28
SELECT ?= *

.PHONY: run test backfill ui summary bench cluster-demo clean

# The packages are installed by uv (itself from PyPI, by the system's pip into a venv without pip of
# its own: `.venv/bin/uv pip install` adds packages): the same versions as pip's in a tenth of its
# time (docs/performance.md); by pip when uv cannot be installed or fails (say, an index only pip's
# configuration names). Neither compiles the ~200 packages to bytecode (36 s of CPU, most of the
# venv's time): the processes make starts write the .pyc of what they import on first import, even
# where PYTHONDONTWRITEBYTECODE is set (it would have every process compile Dagster, pandas,
# SciPy... from source again): `make run` compiles 4 s of it (docs/performance.md).
# uv resolves from its own cache first (--offline: no request to the index; a second, 0.06 s, when the
# cache lacks a package, its message hidden) and from the index otherwise: with a warm cache the same
# 200 packages at the same versions in 1.5 s instead of 13 s, 11.5 s of which were the index's answers
# to uv's revalidation of its cached pages. The versions are then the newest the cache holds within
# pyproject.toml's bounds; `.venv/bin/uv pip install --upgrade -e '.[dev]'` takes the index's newest.
unexport PYTHONDONTWRITEBYTECODE
UV_INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	{ $(PYTHON) -m pip --python $(BIN)/python install --quiet uv && { $(UV_INSTALL) --offline 2>/dev/null || $(UV_INSTALL); }; } \
	  || { $(BIN)/python -m ensurepip --upgrade && $(BIN)/python -m pip install --quiet --upgrade pip \
	       && $(BIN)/python -m pip install --quiet --no-compile -e '.[dev]'; }
	touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

# The history as one in-process run of risk_job on the persistent instance (risk_pipeline/cli/backfill.py):
# the UI then knows every partition of every asset as materialized, with the run's page and logs. The heavy
# assets' tasks (two books each) run on a Dask LocalCluster of one worker process per core on 127.0.0.1
# where there are two cores or more: the 30-year backfill took 272 s against 347 s in one process on the
# idle 2-core machine (docs/performance.md); the tables are the same. ENGINE=inline runs them in the run's process.
WORKERS ?= $(shell nproc 2>/dev/null || echo 1)
ENGINE ?= $(if $(filter 0 1,$(WORKERS)),inline,dask)
COMPUTE := {"resources": {"compute": {"config": {"engine": "$(ENGINE)", "workers": $(WORKERS), "books_per_task": 2}}}}
run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/risk-pipeline backfill --start $(START) --end $(END) --select '$(SELECT)' --config-json '$(COMPUTE)'
	$(BIN)/risk-pipeline summary

backfill: run

summary: $(STAMP)
	$(BIN)/risk-pipeline summary

# `dagster dev` warns that it is superseded by `dg dev` of the separate dagster-dg-cli package, which the
# project does not use: that one message is silenced.
ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	PYTHONWARNINGS='ignore:Function `dev_command` is superseded' $(BIN)/dagster dev -w workspace.yaml

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Whole files to each worker (a file's module-scoped lakes are built once), in collection order: the longest
# files first (risk_pipeline_tests/conftest.py, LONGEST_FILES), so that none starts last (docs/performance.md).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# separate processes on 127.0.0.1, all stopped at the end (risk_pipeline/cluster_demo.py)
cluster-demo: $(STAMP)
	$(BIN)/python -m risk_pipeline.cluster_demo

clean:
	rm -rf data/lake data/risk.duckdb data/reports data/logs data/cache $(DAGSTER_HOME)
