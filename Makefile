# One command each for run, test, lint, bench, package and deploy. Every target sets itself
# up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= dev

.PHONY: run test lint install clean bench valgrind package resources deploy dns

$(STAMP): requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/local_stack.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Includes the package test (chalice package, a boto3-only Python serving the zip) and
# cfn-lint on the packaged template merged with the resources.
test: $(STAMP) lint
	$(BIN)/python -m pytest -q -n 2

# Cold starts are counted in instructions with valgrind where it can be had (installed
# here if apt-get can), else timed; see bench/run.py.
bench: $(STAMP) valgrind
	$(BIN)/python -m bench.run

valgrind:
	@command -v valgrind >/dev/null 2>&1 \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	       && apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq valgrind >/dev/null 2>&1; } \
	  || echo "valgrind not available: the bench times cold starts by wall clock instead"

# The deployment package for STAGE, as `make deploy` ships it (build/package-$(STAGE)/).
package: $(STAMP)
	$(BIN)/python scripts/package.py --stage $(STAGE)

# Once per stage, before the first deploy: table, queues, secret, SES identity, topic.
resources: $(STAMP)
	$(BIN)/python scripts/deploy.py resources --stage $(STAGE)

# chalice deploy --stage $(STAGE), with the checks and the tested package.
deploy: $(STAMP)
	$(BIN)/python scripts/deploy.py app --stage $(STAGE)

dns: $(STAMP)
	$(BIN)/python scripts/deploy.py dns --stage $(STAGE)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build
