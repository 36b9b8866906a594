# One command each for run, test, lint, bench. Every target sets itself up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean i18n browser-tools

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

# -- the browser tests' tools (issue 7): Debian's chromium and axe-core, never a downloaded browser
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

test: $(STAMP) browser-tools lint
	$(BIN)/python -m pytest -q -n 2

# Pages and mails: extract the English ids, update the Dutch and English catalogues, compile
# the .mo files that ship in chalicelib/locale (commit all of them). Babel is build time only.
i18n: $(STAMP)
	$(BIN)/python scripts/i18n.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules tests/artifacts
