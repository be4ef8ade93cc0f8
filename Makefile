# newsflow: `make run` ingests the bundled sample site; `make test` runs the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.DEFAULT_GOAL := help
.PHONY: help install browser run test lint typecheck server serve bench mutate lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install pinned dependencies

# Debian's chromium, which the browser test drives through Playwright (`playwright install`
# cannot download a browser here). Installed once, as root; nothing to do when it is there.
$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "make: the browser test needs Debian's chromium at $(CHROMIUM): run 'make browser' as root (it runs apt-get install chromium)" >&2; \
	  exit 1; \
	fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

browser: $(CHROMIUM) ## install Debian's chromium for the browser test (apt-get, as root)

run: $(STAMP) ## ingest the bundled sample site into ./data and query it
	$(BIN)/newsflow run
	@echo
	$(BIN)/newsflow sql "SELECT source_id, title, cluster_id FROM articles ORDER BY published_at DESC LIMIT 5"

test: $(STAMP) $(CHROMIUM) ## run the test suite (offline; starts its own servers and a browser)
	$(BIN)/pytest

lint: $(STAMP) ## ruff
	$(BIN)/ruff check flows tasks warehouse tests benchmarks mutation

typecheck: $(STAMP) ## mypy
	$(BIN)/mypy
	$(BIN)/mypy mutation/run.py

server: $(STAMP) ## start a Prefect server on 127.0.0.1:4200 (telemetry off)
	$(BIN)/newsflow server

serve: $(STAMP) ## register and serve the deployments (needs PREFECT_API_URL)
	$(BIN)/newsflow serve

bench: $(STAMP) ## run the benchmarks on ../shared/bench (not part of the tests)
	$(BIN)/python benchmarks/extraction.py ../shared/bench/article-extraction --peers
	$(BIN)/python benchmarks/fetch.py
	$(BIN)/python benchmarks/dedup.py quality ../shared/bench/article-extraction/ground-truth.json
	$(BIN)/python benchmarks/dedup.py scale ../shared/bench/article-extraction/ground-truth.json
	$(BIN)/python benchmarks/enrich.py -n 121 --bodies ../shared/bench/article-extraction/ground-truth.json
	$(BIN)/python benchmarks/pipeline.py ../shared/bench/article-extraction/ground-truth.json

mutate: $(STAMP) ## mutation-test the guarantee modules (MODULES=tasks/dedupe.py, JOBS=n; slow)
	$(BIN)/python mutation/run.py $(MODULES) $(if $(JOBS),--jobs $(JOBS))

lock: ## re-pin constraints.txt from the current .venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean: ## remove the venv and the sample warehouse
	rm -rf $(VENV) data
