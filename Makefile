# tricloud: every command a user or CI needs. `make help` lists them.
SHELL := /bin/bash
PY := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo .venv-tools/bin/uv)

.PHONY: help setup test lint format bench
help:
	@echo "make setup  - create .venv from uv.lock (installs uv through pip if missing)"
	@echo "make test   - run the test suite (sets up first if needed)"
	@echo "make lint   - ruff check + ruff format --check"
	@echo "make format - apply ruff fixes and formatting"
	@echo "make bench  - optimizer benchmarks (prints tables)"

# uv is installed into a private tool venv when it is not on PATH, never globally.
.venv-tools/bin/uv:
	python3 -m venv .venv-tools
	.venv-tools/bin/pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

setup: .venv/.synced

test: setup
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: setup
	$(PY) -m bench.optimizer
