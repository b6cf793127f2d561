# OpsPilot: `make run` and `make test` set up everything a fresh machine needs (Python 3.11+, Node and npm present).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
INSTALLED := $(VENV)/.installed
# Reflex 0.10 needs bun >= 1.4.4 (this machine's Node is too old for npm alone) and cannot download bun offline,
# so bun comes from the npm registry into .venv/bin, which is on PATH in every recipe and in an activated venv.
BUN_MIN := 1.4.4
APT_PACKAGES := chromium prometheus prometheus-alertmanager prometheus-node-exporter stress-ng
# The official MCP Inspector, pinned, for the MCP server's integration test (it runs the CLI mode on Node 20 too,
# though its package asks for Node >= 22.19).
INSPECTOR_VERSION := 2.12.0
INSPECTOR_DIR := $(VENV)/inspector

export PATH := $(BIN):$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
# Reflex installs its frontend packages from npm's registry: the one npm is set up with (else Reflex probes two
# public registries and reports every one it cannot reach).
export NPM_CONFIG_REGISTRY ?= $(shell npm config get registry 2>/dev/null)

.PHONY: help run test setup bun inspector demo apt-packages lint typecheck unit browser bench clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# OpsPilot's tables are brought up to date before Reflex starts: Reflex checks them against its models on start-up
# and would otherwise say to run "reflex db migrate", which is not how OpsPilot migrates.
run: setup demo ## set up, prepare the demo world, and serve the console (http://localhost:3000, backend :8000)
	alembic -q upgrade head
	exec reflex run

test: ## set up (plus Debian packages when root), then lint, type-check and run every test suite, timed
	@source .ci/phases.sh
	set +e
	phase "python environment" $(MAKE) --no-print-directory setup-python
	ready=$$?
	phase "bun" $(MAKE) --no-print-directory bun || ready=1
	phase "mcp inspector" $(MAKE) --no-print-directory inspector
	phase "debian packages" $(MAKE) --no-print-directory apt-packages
	if [[ $$ready -eq 0 ]]; then
	    phase "demo world" $(MAKE) --no-print-directory demo
	    phase "ruff check" ruff check .
	    phase "ruff format --check" ruff format --check .
	    phase "mypy" mypy
	    phase "pytest" pytest -m 'not browser'
	    phase "pytest browser" pytest_allow_empty pytest -m browser tests/e2e
	fi
	phase_summary

setup: setup-python bun inspector ## create .venv, install OpsPilot with its test extras, bun and the MCP Inspector

.PHONY: setup-python
setup-python: $(INSTALLED)

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	    || { echo "OpsPilot needs Python 3.11 or newer; run e.g. 'make PYTHON=python3.11 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Re-installs only when pyproject.toml changed since the last install.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

bun: | $(BIN)/python ## install bun from the npm registry into .venv/bin unless a recent one is on PATH
	@current=$$(bun --version 2>/dev/null || true)
	if [[ -n $$current && $$(printf '%s\n%s\n' "$(BUN_MIN)" "$$current" | sort -V | head -n1) == "$(BUN_MIN)" ]]; then
	    echo "bun $$current at $$(command -v bun)"
	else
	    npm install --global --prefix "$(CURDIR)/$(VENV)" --no-audit --no-fund --loglevel=error bun
	    echo "bun $$("$(BIN)/bun" --version) installed in $(BIN)"
	fi

inspector: $(INSPECTOR_DIR)/.installed-$(INSPECTOR_VERSION) ## install the MCP Inspector CLI (pinned) into .venv/inspector

$(INSPECTOR_DIR)/.installed-$(INSPECTOR_VERSION): | $(BIN)/python
	npm install --prefix "$(CURDIR)/$(INSPECTOR_DIR)" --no-audit --no-fund --loglevel=error \
	    "@modelcontextprotocol/inspector@$(INSPECTOR_VERSION)"
	rm -f "$(INSPECTOR_DIR)"/.installed-*
	touch $@

demo: $(INSTALLED) ## build the demo world (kept between runs)
	opspilot demo

apt-packages: ## install the Debian packages the tests use (chromium, prometheus, alertmanager) when root
	@if ! command -v dpkg-query >/dev/null; then
	    echo "not a Debian system: install $(APT_PACKAGES) yourself; tests needing them skip"; exit 0
	fi
	missing=()
	for package in $(APT_PACKAGES); do
	    dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$$package")
	done
	if [[ $${#missing[@]} -eq 0 ]]; then
	    echo "installed: $(APT_PACKAGES)"
	elif [[ $$(id -u) -eq 0 ]]; then
	    export DEBIAN_FRONTEND=noninteractive
	    apt-get update -q
	    apt-get install -y -q "$${missing[@]}"
	else
	    echo "missing Debian packages: $${missing[*]} (not root, so not installed); tests needing them skip"
	fi

lint: $(INSTALLED) ## ruff check and ruff format --check over the repository
	ruff check .
	ruff format --check .

typecheck: $(INSTALLED) ## mypy over core_client and copilot
	mypy

unit: $(INSTALLED) ## the main pytest suite (everything but the browser tests)
	pytest -m 'not browser'

browser: setup ## the end-to-end tests in real Chromium
	source .ci/phases.sh
	pytest_allow_empty pytest -m browser tests/e2e

bench: $(INSTALLED) ## run every script in benchmarks/
	@shopt -s nullglob
	scripts=(benchmarks/*.py)
	if [[ $${#scripts[@]} -eq 0 ]]; then echo "no benchmarks yet"; exit 0; fi
	for script in "$${scripts[@]}"; do
	    echo "==> $$script"
	    python "$$script"
	done

clean: ## remove generated files (Reflex build, caches, test artifacts); keeps .venv and the demo world
	rm -rf .web .states .pytest_cache .mypy_cache .ruff_cache tests/artifacts build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean ## also remove .venv and the data folder (.opspilot): back to a fresh clone
	rm -rf $(VENV) .opspilot *.egg-info
