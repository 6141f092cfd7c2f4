# hotmod developer commands. `make test` and `make demo` are all a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck pytest bench bench-quick bench-django bench-workers soak clean venv chromium

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check src tests examples benchmarks
	$(PY) -m ruff format --check src tests examples benchmarks
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(PY) -m mypy --strict src/hotmod

# The browser tests (tests/test_browser.py) run Debian's Chromium: installed here when missing
# and we are root; otherwise this stops with the command that installs it.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update && apt-get install -y chromium; \
	  else \
	    echo "Chromium is needed by the browser tests: sudo apt-get update && sudo apt-get install -y chromium"; \
	    exit 1; \
	  fi; }

pytest: $(STAMP) chromium
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

demo: $(STAMP)
	$(PY) examples/demo.py

# Benchmarks: a markdown table on stdout, JSON in benchmarks/results/ (not committed).
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	PYTHONPATH=src $(PY) benchmarks/run.py $(BENCH_ARGS)
	PYTHONPATH=src $(PY) benchmarks/patch_bench.py

# In-place upgrade: patch time per class and function against 10^3..10^6 live instances.
.PHONY: bench-patch
bench-patch: $(STAMP)
	PYTHONPATH=src $(PY) benchmarks/patch_bench.py $(BENCH_ARGS)

bench-quick: $(STAMP)
	PYTHONPATH=src $(PY) benchmarks/run.py --quick $(BENCH_ARGS)

# A 200-edit session on a Django project under runserver + hotmod.django (table on stdout).
bench-django: $(STAMP)
	PYTHONPATH=src $(PY) benchmarks/django_session.py $(BENCH_ARGS)
# A 200-edit FastAPI + SQLModel session under uvicorn (errors, warnings, stale responses).
.PHONY: bench-sqlmodel
bench-sqlmodel: $(STAMP)
	PYTHONPATH=src $(PY) benchmarks/sqlmodel_session.py $(BENCH_ARGS)

# Save -> new text visible in an open page in headless Chromium, Flask and Starlette (table).
bench-browser: $(STAMP) chromium
	PYTHONPATH=src $(PY) benchmarks/browser.py $(BENCH_ARGS)

# Save -> all N gunicorn sync workers serve the new code, hotmod vs gunicorn --reload (table).
bench-workers: $(STAMP)
	PYTHONPATH=src $(PY) benchmarks/workers.py $(BENCH_ARGS)

soak: $(STAMP)
	PYTHONPATH=src $(PY) benchmarks/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
