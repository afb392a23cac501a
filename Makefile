# The two commands that do everything on a fresh machine: `make demo` and `make test`.
# Both install what they need (a virtualenv with ecrtool and its test tools; the local ECR's
# Debian packages) and bring up the local ECR from scripts/local-ecr.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK := PATH=$(CURDIR)/$(BIN):$$PATH scripts/local-ecr

.PHONY: install up down demo test test-fast lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	touch $@

install: $(VENV)/.installed

up: install
	$(STACK) up

down:
	$(STACK) down

demo: up
	$(STACK) image viruses >/dev/null
	eval "$$($(STACK) env)" && PATH=$(CURDIR)/$(BIN):$$PATH scripts/demo

lint: install
	$(BIN)/ruff check src tests scripts
	$(BIN)/mypy src

test: lint up
	eval "$$($(STACK) env)" && $(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest tests/unit tests/cli

clean: down
	rm -rf $(VENV) .local-ecr
