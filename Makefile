# One command each for run, test, lint, bench. Every target sets itself up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

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

run: $(STAMP)
	$(BIN)/python scripts/local_stack.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
