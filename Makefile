# Two commands do all the set-up: `make dev` and `make test`.
# .venv is (re)built whenever pyproject.toml is newer than the install stamp.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The JavaScript client tests' dependencies, installed only where npm exists.
NPM := $(shell command -v npm)
JS_DEPS := $(if $(NPM),tests/js/node_modules/.package-lock.json)
# The demo dashboard's bundle (web/dist), rebuilt when a source is newer; needs npm.
WEB := $(if $(NPM),web/dist/dashboard.js)

.PHONY: dev test web lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP) $(WEB)
	$(BIN)/hubbub dev

test: $(STAMP) $(JS_DEPS) $(WEB)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

tests/js/node_modules/.package-lock.json: tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund

web: web/dist/dashboard.js

web/node_modules/.package-lock.json: web/package-lock.json
	npm ci --prefix web --no-audit --no-fund

web/dist/dashboard.js: web/node_modules/.package-lock.json web/build.mjs $(wildcard web/src/*)
	npm run --prefix web --silent build

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/proxy.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache web/dist
