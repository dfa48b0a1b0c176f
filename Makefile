# distillguard: every target sets itself up (virtualenv, dependencies, local broker).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-8)
KAFKA := deploy/kafka/kafka.sh
LOCAL_BOOTSTRAP := localhost:$${KAFKA_PORT:-19092}

.PHONY: venv demo test lint typecheck unit kafka-up kafka-down bench bench-kafka clean

venv: $(STAMP)

$(STAMP): pyproject.toml $(wildcard models/*.c models/*.h)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	@rm -f $(VENV)/.installed-* && touch $@

demo: venv
	$(VENV)/bin/distillguard demo

lint: venv
	$(VENV)/bin/ruff check models streams tests bench
	$(VENV)/bin/ruff format --check models streams tests bench

typecheck: venv
	$(VENV)/bin/mypy

# Starts the local broker unless KAFKA_BOOTSTRAP_SERVERS is set, runs everything, stops the
# broker it started. A broker that cannot start fails the run.
test: venv lint typecheck
	@set -e; started=0; \
	if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then \
	  $(KAFKA) start; started=1; export KAFKA_BOOTSTRAP_SERVERS=$(LOCAL_BOOTSTRAP); \
	fi; \
	trap '[ $$started = 1 ] && $(KAFKA) stop' EXIT; \
	$(PY) -m pytest -q -p no:cacheprovider --durations=10 tests

unit: venv
	$(PY) -m pytest -q -m "not kafka" tests

kafka-up:
	$(KAFKA) start

kafka-down:
	$(KAFKA) stop

bench: venv
	$(PY) bench/account_memory.py
	$(PY) bench/replay_throughput.py

bench-kafka: venv
	@set -e; started=0; \
	if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then \
	  $(KAFKA) start; started=1; export KAFKA_BOOTSTRAP_SERVERS=$(LOCAL_BOOTSTRAP); \
	fi; \
	trap '[ $$started = 1 ] && $(KAFKA) stop' EXIT; \
	$(PY) bench/kafka_e2e.py

clean:
	rm -rf $(VENV) var build *.egg-info
