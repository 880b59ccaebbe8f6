# Two entry points: `make run` (the app) and `make test` (lint + the test suite).
# Both create .venv on first use; PyTorch comes from this machine's pip cache/disk when present.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/vae-tui $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check vae_tui core tui tests benchmarks scripts
	$(BIN)/ruff format --check vae_tui core tui tests benchmarks scripts

test: $(STAMP) lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/train_speed.py $(ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
