# inferstack: the two quickstart commands are `make up` and `make test`.
# Each one builds its own virtualenv on a fresh machine; nothing global is needed
# beyond Python 3.11+, and for `make up` the Pulumi CLI and a running Docker engine.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STACK  ?= local
# Local stacks keep their state in this repo (no Pulumi Cloud account needed).
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi
# The local stack's secrets passphrase. Only STACK=local gets this default: any other
# stack must bring its own PULUMI_CONFIG_PASSPHRASE or a cloud secrets provider.
LOCAL_PASSPHRASE ?= inferstack-local
PULUMI_ENV = export PATH="$(CURDIR)/$(BIN):$$PATH" \
  $(if $(filter local,$(STACK)),PULUMI_CONFIG_PASSPHRASE="$${PULUMI_CONFIG_PASSPHRASE-$(LOCAL_PASSPHRASE)}")

.PHONY: up down test lint plan clean venv-up venv-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per extra set so a pyproject change reinstalls.
$(VENV)/.up-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[local,sklearn]'
	touch $@

$(VENV)/.test-installed: pyproject.toml .ci/constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]' -c .ci/constraints.txt
	touch $@

venv-up: $(VENV)/.up-installed
venv-test: $(VENV)/.test-installed

## up: deploy the example model with the local stack (Pulumi CLI + Docker engine)
up: venv-up
	@$(BIN)/python -m inferstack.components.cli doctor --for-up
	@mkdir -p .pulumi
	@$(PULUMI_ENV); \
	  pulumi stack select --create $(STACK) && \
	  pulumi up --yes --stack $(STACK) && \
	  $(BIN)/inferstack outputs $(STACK)

## down: destroy the local stack
down: venv-up
	@$(BIN)/python -m inferstack.components.cli doctor --for-up
	@$(PULUMI_ENV); \
	  pulumi destroy --yes --stack $(STACK)

## test: every test (unit, mock engine, moto, runtime, container)
test: venv-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## lint: ruff and mypy
lint: venv-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy components runtime policies

## plan: offline plan of STACK under Pulumi's mock runtime
plan: venv-test
	$(BIN)/inferstack plan $(STACK)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
