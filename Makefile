# perflab: `make demo` and `make test` work on a fresh machine; each builds .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-unit bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/perflab demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP)
	bash bench/setup.sh
	$(BIN)/python bench/bench_histogram.py
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_scenario.py
	$(BIN)/python bench/bench_report.py
	$(BIN)/python bench/bench_detect.py
	$(BIN)/python bench/bench_gate.py
	$(BIN)/python bench/bench_profile.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
