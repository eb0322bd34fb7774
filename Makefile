# The two commands of the README are `make demo` and `make test`.
PY := .venv/bin/python
SHELL := /bin/bash

.PHONY: setup demo test test-unit services services-down check lint format bench clean

setup:
	./scripts/setup.sh

# Main job: the urgent tsunami demo on the embedded local site (no Slurm, no external data).
demo: setup
	./scripts/demo.sh

# Everything a fresh Debian 12 machine needs, then the full test-suite against real services.
test: setup services
	$(PY) -m pytest -q

test-unit: setup
	$(PY) -m pytest -q -m "not integration and not slow"

services:
	./scripts/system-deps.sh
	./scripts/slurm-up.sh
	./scripts/sshd-up.sh

services-down:
	-./scripts/slurm-down.sh
	-./scripts/sshd-down.sh

check: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/python scripts/check_layers.py

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: setup
	./scripts/bench.sh

clean:
	rm -rf .venv .tosca build *.egg-info .pytest_cache .mypy_cache .ruff_cache
