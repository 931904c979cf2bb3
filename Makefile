# The two commands a fresh machine needs: `make run` and `make test`. Everything installs
# from requirements.lock (hash-pinned) into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-12)
PORT ?= 8000
# pytest-xdist workers for `make test`: each has its own test database (test_<name>_gw0, …) and
# Redis database (REDIS_URL's number plus the worker's; see tests/settings.py).
TEST_WORKERS ?= 2
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
OIDC_PROVIDER := tests/oidc/node_modules/.installed

.DEFAULT_GOAL := help
BENCH_HOG = $(if $(HOG),--hog $(HOG))

.PHONY: help install browser alertmanager oidc-provider run test lint format bench lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP) ## Create .venv and install the locked dependencies

browser: ## Install Debian's Chromium for the browser tests when it is missing (root or sudo)
	@.ci/ensure-chromium

alertmanager: ## Install Debian's Alertmanager for the real-sender alert test when missing (root or sudo)
	@.ci/ensure-alertmanager

$(OIDC_PROVIDER): tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund
	@touch $@

oidc-provider: $(OIDC_PROVIDER) ## Install the OpenID provider the SSO tests start (tests/oidc; Node 18+, npm)

run: install ## Start the portal on 127.0.0.1:$PORT with the embedded default (SQLite + Valkey)
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py runportal --port $(PORT)

test: install browser alertmanager oidc-provider ## Run the test suite (uses DATABASE_URL and REDIS_URL when set)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install ## ruff, formatting, and missing migrations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	ITSM_TESTING=1 $(BIN)/python manage.py makemigrations --check --dry-run

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## Benchmarks against DATABASE_URL (PostgreSQL) and REDIS_URL; prints tables (HOG=N: overload)
	$(BIN)/python -m tests.benchmarks.bench_api $(BENCH_HOG)
	$(BIN)/python -m tests.benchmarks.bench_sla $(BENCH_HOG)
	$(BIN)/python -m tests.benchmarks.bench_warroom $(BENCH_HOG)
	$(BIN)/python -m tests.benchmarks.bench_postmortem $(BENCH_HOG)
	$(BIN)/python -m tests.benchmarks.bench_status $(BENCH_HOG)
	$(BIN)/python -m tests.benchmarks.bench_alerts $(BENCH_HOG)
	$(BIN)/python -m tests.benchmarks.bench_reports $(BENCH_HOG)

lock: ## Re-resolve requirements.lock from pyproject.toml
	$(PYTHON) -m pip install -q uv && $(PYTHON) -m uv pip compile pyproject.toml --extra dev \
		--python-version 3.11 --generate-hashes -o requirements.lock

clean: ## Remove .venv and the embedded data under var/
	rm -rf $(VENV) var staticfiles
