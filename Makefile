# Two commands do all the setup on a fresh machine:
#   make demo   -> venv + install + run the embedded Guangzhou default
#   make test   -> venv + install with test extras + the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= out

.PHONY: demo example test test-fast lint data data-nyc guangdong-data clean system-deps

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

# The second embedded example: New York City's five boroughs (data/newyork.toml).
example: $(VENV)/.installed
	$(VENV)/bin/citycov run data/newyork.toml --out $(OUT)-newyork

system-deps:
	bash scripts/install_system_deps.sh

test: $(VENV)/.installed-test system-deps
	$(PY) -m pytest
	NUMBA_DISABLE_JIT=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_engine_radio.py tests/test_engine_antenna.py \
		tests/test_propagation.py tests/test_propagation_diffraction.py tests/test_propagation_clutter.py tests/test_propagation_tr38901.py tests/test_accounting_fibre.py tests/test_accounting_districts.py \
		tests/test_pipeline_end_to_end.py::test_ridge_adds_hand_computed_knife_edge_loss \
		tests/test_engine_tiles.py::test_blocked_fan_equals_ray_by_ray_hull \
		tests/test_engine_tiles.py::test_wedge_holds_every_cells_nearest_ray \
		tests/test_engine_tiles.py::test_reach_limit_by_hand tests/test_engine_tiles.py::test_tile_windows_cover_the_grid_once \
		tests/test_plan_solve.py tests/test_plan_cabinets.py

test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -m "not slow"

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check citycov tests scripts benchmarks

# Regenerate the embedded synthetic data (seeded, deterministic).
data: $(VENV)/.installed
	$(PY) scripts/make_guangzhou_data.py

data-nyc: $(VENV)/.installed
	$(PY) scripts/make_nyc_data.py

# The Guangdong province scenario's synthetic inputs (data/guangdong.toml) into the git-ignored
# data/generated/guangdong/; does nothing when they are all there (about 100 s and 4 GB otherwise).
guangdong-data: $(VENV)/.installed
	$(PY) scripts/make_guangdong_data.py

clean:
	rm -rf $(VENV) $(OUT) $(OUT)-newyork .pytest_cache
