# make demo   create .venv, install, run the pipeline on the sample requests
# make test   same set-up, then the whole test suite, one worker per core (TEST_WORKERS=N to choose;
#             PYTEST_ARGS='-k name' and the like pass through)
# make test-fast   the inner loop: the tests that start no program (no daemon, webserver,
#             contract-assets or dagster process, LibreOffice, Chromium), in a few minutes
# make ui     the Dagster UI on http://127.0.0.1:3000 over the same instance
#             (UI_ARGS=--read-only, UI_ARGS='--host ADDR --port N': see README, The UI)
# CONTRACT_ASSETS_TEST_BACKEND=postgres make test   the suite on PostgreSQL (127.0.0.1:5432)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The shared sample requests when this checkout sits beside them, else the copies in examples/.
SHARED_REQUESTS := ../shared/examples/requests
DEMO_REQUESTS ?= $(if $(wildcard $(SHARED_REQUESTS)/*.yaml),$(SHARED_REQUESTS),examples/requests)

# Tests that share a server or a browser carry the same xdist_group mark and run on one worker;
# the workers take tests in the order the suite's conftest gives (the longest first).
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
XDIST := --dist loadgroup --no-loadscope-reorder
PYTEST_ARGS ?=

.PHONY: demo test test-fast ui benchmark schema docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(STAMP)
	scripts/system-deps.sh fonts
	$(BIN)/contract-assets demo $(DEMO_REQUESTS)

test: $(STAMP)
	scripts/system-deps.sh test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(XDIST) $(PYTEST_ARGS)

# Leaves out `slow` and `programs`; a test that starts a program anyway fails, naming it.
test-fast: $(STAMP)
	CONTRACT_ASSETS_TEST_NO_PROGRAMS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) $(XDIST) \
		-m "not slow and not programs" $(PYTEST_ARGS)

ui: $(STAMP)
	$(BIN)/contract-assets dev $(UI_ARGS)

benchmark: $(STAMP)
	scripts/system-deps.sh fonts
	$(BIN)/python benchmarks/render_benchmark.py
	$(BIN)/python benchmarks/pipeline_benchmark.py
	$(BIN)/python benchmarks/inbox_benchmark.py
	$(BIN)/python benchmarks/status_benchmark.py
	$(BIN)/python benchmarks/console_startup_benchmark.py

schema: $(STAMP)
	$(BIN)/python -m contract_assets.intake.schema

# Redraw the generated diagrams of docs/architecture.md from the code.
docs: $(STAMP)
	$(BIN)/python -m contract_assets.architecture

clean:
	rm -rf $(VENV) .contract_assets .tmp_dagster_home_* *.egg-info .ci/artifacts
