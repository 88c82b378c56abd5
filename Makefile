# tricloud: every command a user or CI needs. `make help` lists them.
SHELL := /bin/bash
PY := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo .venv-tools/bin/uv)

STACK ?= dev

.PHONY: help setup test lint format bench bench-plan plan lock lock-check
help:
	@echo "make setup  - create .venv from uv.lock (installs uv through pip if missing)"
	@echo "make test   - run the test suite (sets up first if needed)"
	@echo "make lint   - ruff check + ruff format --check"
	@echo "make format - apply ruff fixes and formatting"
	@echo "make plan   - offline plan of a stack, no cloud account: make plan STACK=prod (default dev)"
	@echo "make lock   - rewrite stacks/placement.\$$STACK.json from the optimizer's current result"
	@echo "make lock-check - every stack's lock equals the optimizer's result (STACKS=\"dev prod\" for some)"
	@echo "make bench  - optimizer benchmarks (prints tables)"
	@echo "make bench-plan - offline plan wall time and peak memory per stack (prints a table)"

# uv is installed into a private tool venv when it is not on PATH, never globally.
.venv-tools/bin/uv:
	python3 -m venv .venv-tools
	.venv-tools/bin/pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	# Bytecode is compiled once here: the cloud SDKs are large, and with
	# PYTHONDONTWRITEBYTECODE set every run would otherwise recompile them (about 2.5 s).
	$(UV) sync --frozen --compile-bytecode
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

plan: setup
	$(PY) -m tools.plan --stack $(STACK)

lock: setup
	$(PY) -m tools.plan --stack $(STACK) --write-lock

# Every stacks/Pulumi.*.yaml unless STACKS names some: exit 1 naming the stack and the change
# when a lock is stale (python -m tools.plan.lockcheck --help).
STACKS ?=
lock-check: setup
	$(PY) -m tools.plan.lockcheck $(foreach s,$(STACKS),--stack $(s))

bench: setup
	$(PY) -m bench.optimizer

bench-plan: setup
	$(PY) -m bench.plan
