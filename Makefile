# Every target sets up what it needs; a fresh machine only needs python3 (>= 3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
PORT ?= 8000
DATA_DIR ?= .lambdashare

.PHONY: install web run test unit e2e schema schema-check lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# The web app and the GraphQL explorer: npm packages from web/package-lock.json (npm ci, once per lock
# file), bundled by esbuild into web/dist (git-ignored), which the emulator serves under /web/dist/.
WEB_NPM_STAMP := web/node_modules/.installed-$(shell cat web/package-lock.json | sha256sum | cut -c1-12)
WEB_SOURCES := web/build.mjs $(wildcard web/src/*.js web/src/*.css)

$(WEB_NPM_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

web/dist/.built: $(WEB_NPM_STAMP) $(WEB_SOURCES)
	cd web && node build.mjs
	touch $@

web: web/dist/.built  ## bundle the web app and the explorer into web/dist

run: install web  ## the emulator with the web app, on the embedded default (SQLite + a data dir)
	$(BIN)/lambdashare serve --port $(PORT) --data-dir $(DATA_DIR)

test: install web  ## every test
	$(BIN)/python -m pytest

unit: install
	$(BIN)/python -m pytest tests/unit

e2e: install web
	$(BIN)/python -m pytest tests/e2e

schema: install  ## regenerate schema.graphql from the strawberry types
	$(BIN)/lambdashare export-schema --output schema.graphql

schema-check: install
	$(BIN)/lambdashare export-schema --output schema.graphql --check

lint: install
	$(BIN)/ruff check src resolvers functions tests bench scripts && $(BIN)/ruff format --check src resolvers functions tests bench scripts

typecheck: install
	$(BIN)/mypy

bench: install  ## benchmarks; results land in bench/results/ (the Node reference: npm ci in bench/ on first use)
	$(BIN)/python bench/e2e_latency.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/graphql_load.py
	$(BIN)/python bench/hash_throughput.py
	$(BIN)/python bench/big_file.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist

# template.yaml's functions deploy from build/lambda/ (their CodeUri): the project code plus its
# Lambda dependencies as wheels for the template's runtime and architecture. Deploy with
# `make package && sam build && sam deploy --guided`; scripts/package.py says what goes in.
.PHONY: package
package: install  ## the Lambda artifact(s) template.yaml deploys, with their sizes
	$(BIN)/python scripts/package.py

# The fuzz tests (tests/e2e/test_fuzz.py) run in `make test` with a quick budget; this runs the same
# tests with FUZZ_EXAMPLES examples each, reproducibly (examples derive from each test; FUZZ_SEED=<int>
# explores others). Each request still has its own deadline; FUZZ_TIMEOUT bounds each test.
FUZZ_EXAMPLES ?= 2000
FUZZ_SEED ?=
FUZZ_TIMEOUT ?= 7200
.PHONY: fuzz
fuzz: install  ## the fuzz tests with a big budget: make fuzz [FUZZ_EXAMPLES=2000] [FUZZ_SEED=n]
	LAMBDASHARE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) LAMBDASHARE_FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/python -m pytest tests/e2e/test_fuzz.py --timeout=$(FUZZ_TIMEOUT)
