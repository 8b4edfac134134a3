# Two commands on a fresh clone: `make demo` (the main job) and `make test` (the whole suite).
# Each creates the virtual environment from the lock file when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test lint bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

# The main job: the hub, the sandbox systems and a traffic generator, then a summary
# (`make demo DEMO_ARGS="--duration 60 --no-browser"`; see `crossdock demo --help`).
demo: $(STAMP)
	$(BIN)/crossdock demo $(DEMO_ARGS)

serve: $(STAMP)
	$(BIN)/crossdock db upgrade
	$(BIN)/crossdock apply -f examples/crossdock.yaml
	$(BIN)/crossdock serve --host 127.0.0.1 --port 8080

# The suite in two passes: the tests that keep to themselves on TEST_WORKERS processes, then
# the `slow` ones (they spawn hubs, sandboxes and worker processes and hold time or rate
# bounds) in two streams (tests/conftest.py): the order flow end to end, which mostly waits,
# beside the rest one at a time.
# The second pass runs even when the first fails, so one run shows every failure. Exit status
# 5 is "no test selected" (a PYTEST_ARGS that picks from one pass only).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	failed=0; \
	$(BIN)/python -m pytest -q -ra --durations=15 -n $(TEST_WORKERS) -m "not slow" $(PYTEST_ARGS) || [ $$? -eq 5 ] || failed=1; \
	$(BIN)/python -m pytest -q -ra --durations=15 -n 2 --dist loadgroup -m slow $(PYTEST_ARGS) || [ $$? -eq 5 ] || failed=1; \
	exit $$failed

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
