# The two set-up commands: `make run` and `make test`. Each creates or reuses .venv and installs
# the project with its dependencies, so a fresh clone needs nothing but python3 (3.11+).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
RUNDIR ?= .run

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# The main job: poll every bundled offline sample feed once, evaluate the default rule pack,
# and print the alerts. Works with no network. Each run starts a fresh log in $(RUNDIR), so the
# output is the same every time; look at it afterwards with `monitor --db .run/monitor.db ...`.
run: $(STAMP)
	@mkdir -p $(RUNDIR) && rm -f $(RUNDIR)/monitor.db $(RUNDIR)/monitor.db-wal $(RUNDIR)/monitor.db-shm
	$(BIN)/monitor --db $(RUNDIR)/monitor.db watch --once --feeds feeds/default.yaml --rules rules/

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The suite, then every benchmark once at tiny sizes: no figures, but a benchmark that breaks
# fails the build instead of rotting until someone runs `make bench`.
test: lint
	$(BIN)/python -m pytest
	BENCH_LOG_EVENTS=300 BENCH_LOG_ROUNDS=1 BENCH_PG_EVENTS=300 BENCH_PG_ROUNDS=1 \
	BENCH_RULES_ITEMS=10 BENCH_RULES_MAX=1000 BENCH_RULES_ARABIC_MAX=1000 BENCH_SIGHTINGS_ITEMS=300 BENCH_ALERTS_ITEMS=300 BENCH_CORR_PLACES=1000 BENCH_CORR_WARM=3000 BENCH_CORR_TIMED=1000 BENCH_STORIES_ITEMS=300 \
	BENCH_POLL_VOLUME=3x10 BENCH_SEARCH_ITEMS=300 BENCH_SEARCH_ROUNDS=2 BENCH_CONSOLE_ITEMS=300 BENCH_CONSOLE_ROUNDS=2 BENCH_BACKTEST_ITEMS=300 BENCH_BACKTEST_ROUNDS=1 BENCH_INGEST_ITEMS=300 BENCH_INGEST_ROUNDS=1 \
	BENCH_PACK_RULES=30 BENCH_PACK_ITEMS=5 \
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-max-time=0.1

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-columns=min,mean,median,ops,rounds $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(RUNDIR) .pytest_cache .benchmarks
