# The two commands that do everything on a fresh machine: `make demo` and `make test`.
# Both install what they need (a virtualenv with ecrtool and its test tools; the local ECR's
# Debian packages) and bring up the local ECR from scripts/local-ecr.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK := PATH=$(CURDIR)/$(BIN):$$PATH scripts/local-ecr

.PHONY: install up down demo test test-fast test-tools lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	touch $@

install: $(VENV)/.installed

# awscli and skopeo, for the benchmarks only: they time ecrtool against the aws/docker chain it
# replaces, and its copy against skopeo's (a Debian package, installed only if missing)
BENCH_DEBS := skopeo

$(VENV)/.bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	@missing=""; for tool in $(BENCH_DEBS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	touch $@

# every figure against its target (BENCHMARKS.md records them); needs root, like the local ECR
bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run.py --write BENCHMARKS.md

up: install
	$(STACK) up

down:
	$(STACK) down

demo: up
	$(STACK) image viruses >/dev/null
	eval "$$($(STACK) env)" && PATH=$(CURDIR)/$(BIN):$$PATH scripts/demo

lint: install
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/mypy src

# Debian tools the tests use besides the local ECR's: sudo (ecrtool --sudo as a real non-root user),
# shellcheck (the EC2 user data, and actionlint's check of workflow scripts), and tinyproxy with socat
# (ecrtool behind a real proxy, with no other way out: tests/integration/test_wire_proxy.py).
TEST_DEBS := sudo shellcheck tinyproxy socat skopeo

test-tools:
	@missing=""; for tool in $(TEST_DEBS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# the benchmarks' short mode fails only on a ratio more than 2x off its target, never on a time
test: lint up test-tools $(VENV)/.bench
	eval "$$($(STACK) env)" && $(BIN)/python -m pytest
	$(BIN)/python benchmarks/run.py --short

test-fast: install
	$(BIN)/python -m pytest -m "not integration" tests/unit tests/cli

clean: down
	rm -rf $(VENV) .local-ecr
