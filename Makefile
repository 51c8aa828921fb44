# Seam: two commands on a fresh machine.
#   make demo   installs everything and runs a short chaos test
#   make test   installs everything and runs the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SYSTEM_PACKAGES := iproute2 iptables openssh-server faketime libfaketime procps chromium etcd-server etcd-client postgresql redis-server redis-sentinel
STAMP := $(VENV)/.installed
# pytest-xdist workers for `make test`; tests/conftest.py schedules the ones that share
# loopback addresses or host iptables on one worker. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2

.PHONY: all install system venv demo test test-fast lint bench clean-results

all: test

# System packages: installed only when missing, and only when we are root.
system:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "seam: installing system packages:$$missing"; \
	    { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || \
	    echo "seam: apt-get could not install:$$missing (tests that need them will skip, saying why)"; \
	  else \
	    echo "seam: missing system packages:$$missing (not root: namespace, iptables, clock and ssh tests will skip)"; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

install: system venv

demo: install
	$(BIN)/seam test --workload register --time-limit 30 --demo

test: install
	$(BIN)/ruff check harness nemesis checkers target tests bench
	$(BIN)/mypy harness nemesis checkers target
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) tests

# The quick loop while coding: no slow or root tests, on TEST_WORKERS workers, stop at the first failure.
test-fast: venv
	$(BIN)/python -m pytest -q -x -p no:cacheprovider -n $(TEST_WORKERS) -m "not slow and not root" tests

lint: venv
	$(BIN)/ruff check harness nemesis checkers target tests bench
	$(BIN)/mypy harness nemesis checkers target
	$(BIN)/lint-imports --no-cache

bench: venv
	$(BIN)/python bench/checker.py

# Remove every stored run and night (results/README.md and a namespace cluster's
# state, results/.cluster, stay), after undoing what dead runs left behind: open
# faults healed, node processes stopped. `make clean-results RESULTS=DIR` for another
# directory; `seam runs --prune --keep-days D` keeps recent runs and unpromoted anomalies.
RESULTS ?= results
clean-results: venv
	-$(BIN)/seam heal --stop-nodes --results $(RESULTS)
	find $(RESULTS) -mindepth 1 -maxdepth 1 ! -name README.md ! -name .cluster -exec rm -rf {} +
	@echo "seam: $(RESULTS)/ emptied (README.md and .cluster kept)"
