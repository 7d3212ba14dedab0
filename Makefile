# rayline: `make demo` runs the reference workflow end to end; `make test` runs the test suite.
# Both create or update the virtual environment in .venv first (idempotent).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo demo-cluster studio test test-unit lint format bench clean browser

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "rayline needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) examples/housing/demo.py $(DEMO_ARGS)

# The same workflow on a local two-node Ray cluster whose nodes share no disk, with a local S3
# server and the machine's PostgreSQL and Redis (needs root: the worker node gets its own mount
# namespace). Everything it starts is stopped and removed at the end.
demo-cluster: install
	$(PY) examples/housing/demo_cluster.py $(DEMO_ARGS)

# Studio on the state the demo leaves: the first time, the demo runs keeping its results
# (endpoint included, on `rayline up`'s Ray); then the server starts and prints the URL to open.
studio: install
	$(PY) examples/housing/studio.py $(STUDIO_ARGS)

# `make test` lints first (ruff and the import-linter contracts), so CI enforces the layers.
# pytest exits 5 when it collects no tests; make treats that as a failure, as it should.
test: lint browser
	$(PY) -m pytest tests -q --durations=15

# Studio's browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download needs the internet): install the package when it is missing (as root, or with sudo).
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		APT="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get"; \
		$$APT install -y chromium || { $$APT update && $$APT install -y chromium; }; \
	}

test-unit: install
	$(PY) -m pytest tests/unit -q

# ruff, then the layering contracts in .importlinter (ARCHITECTURE.md draws them).
lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff format src tests benchmarks examples
	$(VENV)/bin/ruff check --fix src tests benchmarks examples

bench: install browser
	$(PY) benchmarks/orchestration.py
	$(PY) benchmarks/feature_store.py
	$(PY) benchmarks/training.py
	$(PY) benchmarks/serving.py
	$(PY) benchmarks/storage.py
	$(PY) benchmarks/cluster.py
	$(PY) benchmarks/server.py
	$(PY) benchmarks/studio.py

clean:
	rm -rf .rayline .pytest_cache .ruff_cache
