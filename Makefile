# Every target creates .venv and installs what it needs; re-running is cheap (a stamp file).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test test-fast bench lint migrate demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/model-router migrate
	$(BIN)/model-router bootstrap
	$(BIN)/model-router serve --host $(HOST) --port $(PORT)

migrate: $(STAMP)
	$(BIN)/model-router migrate

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench

demo: $(STAMP)
	$(BIN)/python -m bench.demo --host $(HOST) --port $(PORT)

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache
