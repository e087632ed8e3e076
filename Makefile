# inferstack: the two quickstart commands are `make up` and `make test`.
# Each one builds its own virtualenv on a fresh machine; nothing global is needed
# beyond Python 3.11+, and for `make up` a running Docker engine (it installs a pinned
# Pulumi CLI into .pulumi-cli/ when none is on PATH).

PYTHON ?= python3
VENV   ?= .venv
TOOLS  ?= .venv-tools
BIN    := $(VENV)/bin
STACK  ?= local
# Local stacks keep their state in this repo (no Pulumi Cloud account needed).
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi
# The local stack's secrets passphrase. Only STACK=local gets this default: any other
# stack must bring its own PULUMI_CONFIG_PASSPHRASE or a cloud secrets provider.
LOCAL_PASSPHRASE ?= inferstack-local
PULUMI_ENV = export PATH="$(CURDIR)/$(BIN):$$PATH" \
  $(if $(filter local,$(STACK)),PULUMI_CONFIG_PASSPHRASE="$${PULUMI_CONFIG_PASSPHRASE-$(LOCAL_PASSPHRASE)}")
# Without `pulumi` on PATH, `make up` installs the release pinned (version and sha256 per
# platform) in components/cli/pulumi_release.json into PULUMI_CLI_DIR, checksum first, and
# puts it on PATH; `make down` uses it when it is there. A failed download is one line
# naming the manual install command.
PULUMI_CLI_DIR ?= .pulumi-cli
BOOTSTRAP = $(BIN)/python -m inferstack.components.cli.bootstrap --dir "$(PULUMI_CLI_DIR)" $(BOOTSTRAP_ARGS)
USE_PULUMI_CLI = pulumi_bin="$$($(BOOTSTRAP) $(1))" || exit 1; \
  export PATH="$${pulumi_bin:+$$pulumi_bin:}$$PATH"
# Checks the Pulumi CLI and Docker (exit 1 naming the fix), and prints the DOCKER_HOST
# the Docker provider needs when the Docker CLI's context is not at a socket the
# provider finds by itself (Colima, rootless Docker, Podman); the recipes eval it.
DOCTOR = $(BIN)/python -m inferstack.components.cli doctor --for-up --print-env
# What `make clean-images` removes besides the images.
STAGED_CONTEXTS = stacks/.inferstack "$${XDG_CACHE_HOME:-$$HOME/.cache}/inferstack/contexts"

.PHONY: up down pulumi-cli clean-images test lint plan clean venv-up venv-test venv-tools

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

# Scanners the tests call as programs (checkov), kept out of the test virtualenv.
$(TOOLS)/.installed: .ci/tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r .ci/tools.txt
	touch $@

venv-up: $(VENV)/.up-installed
venv-test: $(VENV)/.test-installed
venv-tools: $(TOOLS)/.installed

## up: deploy the example model with the local stack (Pulumi CLI + Docker engine)
up: venv-up
	@$(call USE_PULUMI_CLI); \
	  docker_env="$$($(DOCTOR) --ports-of $(STACK))" || exit 1; eval "$$docker_env"; \
	  mkdir -p .pulumi && \
	  $(PULUMI_ENV); \
	  pulumi stack select --create $(STACK) && \
	  pulumi up --yes --stack $(STACK) && \
	  $(BIN)/inferstack outputs $(STACK)

## down: remove the stack's containers, network and API key; keep captured data and images
down: venv-up
	@$(call USE_PULUMI_CLI,--no-download); \
	  docker_env="$$($(DOCTOR))" || exit 1; eval "$$docker_env"; \
	  $(PULUMI_ENV); \
	  pulumi destroy --yes --stack $(STACK) || exit 1; \
	  if docker volume inspect inferstack-$(STACK)-capture >/dev/null 2>&1; then \
	    echo "Kept: the captured requests, in the Docker volume inferstack-$(STACK)-capture" \
	      "(delete them: docker volume rm inferstack-$(STACK)-capture)."; \
	  fi; \
	  echo "Kept: the images and staged build contexts (remove them: make clean-images)."

## pulumi-cli: install the pinned Pulumi CLI into PULUMI_CLI_DIR unless `pulumi` is on PATH
pulumi-cli: venv-up
	@$(BOOTSTRAP) >/dev/null

## clean-images: remove the runtime images inferstack built and the staged build contexts
clean-images:
	@refs="$$(docker images --filter label=dev.inferstack.version \
	    --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' | sort -u)"; \
	  if [ -n "$$refs" ]; then \
	    docker rmi $$refs || { echo "an image is in use by a container: make down first"; exit 1; }; \
	  fi; \
	  docker image prune --force --filter label=dev.inferstack.version >/dev/null
	rm -rf $(STAGED_CONTEXTS)

## test: every test (unit, mock engine, moto, runtime, container)
test: venv-test venv-tools
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
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .mypy_cache
