PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test bench clean definitions

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/ember auth bootstrap --database sqlite:///ember.db
	$(BIN)/ember serve --database sqlite:///ember.db

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python bench/core.py

definitions: $(STAMP)
	$(BIN)/python -m ember.fhir.definitions.generate

clean:
	rm -rf $(VENV) ember.db ember.db-wal ember.db-shm
