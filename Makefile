# Two commands do all the setup on a fresh machine:
#   make demo   -> venv + install + run the embedded Guangzhou default
#   make test   -> venv + install with test extras + the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= out

.PHONY: demo test test-fast lint data bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/citycov run --out $(OUT)

test: $(VENV)/.installed-test
	$(PY) -m pytest

test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -m "not slow"

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check citycov tests scripts benchmarks

# Regenerate the embedded synthetic data (seeded, deterministic).
data: $(VENV)/.installed
	$(PY) scripts/make_guangzhou_data.py

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_radio.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
