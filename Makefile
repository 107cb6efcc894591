# mtpipe: every target creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: translate test bench lint typecheck clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev,ray,notebook]'
	@$(BIN)/python -m compileall -q pipeline  # editable installs are not byte-compiled
	@touch $(STAMP)

## translate: the main job (offline simulator when ROUTESCOPE_API_KEY is unset)
translate: $(STAMP)
	@if [ -z "$$ROUTESCOPE_API_KEY" ]; then \
	  echo "mtpipe: ROUTESCOPE_API_KEY is not set, so this runs on the offline simulator (--sim)"; \
	  sim="--set sim=true"; fi; \
	$(BIN)/mtpipe run jobs/ui_strings.toml $$sim

## test: the whole test suite (simulator over loopback, real kill -9)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## bench: throughput, CPU, memory figures (prints a table; never asserts timings)
bench: $(STAMP)
	@$(BIN)/python -m compileall -q pipeline bench  # edited modules: no compile in the figures
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/ruff format --check pipeline tests bench

typecheck: $(STAMP)
	$(BIN)/mypy pipeline

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
