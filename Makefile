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

# -- issue 7: languages and the browser tests' tools ----------------------------------------
.PHONY: i18n browser-tools

# Pages and mails: extract the English ids, update the Dutch and English catalogues, compile
# the .mo files that ship in chalicelib/locale (commit all of them). Babel is build time only.
i18n: $(STAMP)
	$(BIN)/python scripts/i18n.py

# Debian's chromium (never a downloaded browser) and axe-core from package-lock.json.
CHROMIUM := /usr/bin/chromium
NODE_STAMP := node_modules/.installed

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install chromium at $(CHROMIUM) (Debian: apt-get install chromium)"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

browser-tools: $(CHROMIUM) $(NODE_STAMP)

# `make test` gets them first (a second rule for the same target only adds prerequisites).
test: browser-tools

# -- issue 13: the versions of the consent texts the forms show ------------------------------
.PHONY: texts

# After changing a consent text or a form's purposes: record the new versions in
# chalicelib/texts_shown.json (it only grows; commit it). A post may name any of them.
texts: $(STAMP)
	$(BIN)/python scripts/texts.py

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
