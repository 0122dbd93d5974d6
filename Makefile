# The two commands of the README, and the checks and benchmarks around them.
# `make run` and `make test` need nothing but Python 3.11+: the venv and its locked packages are
# created on first use. DATABASE_URL / REDIS_URL switch from SQLite + embedded broker to Postgres + Redis.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PORT   ?= 8000
export DJANGO_SETTINGS_MODULE := config.settings

.PHONY: run test lint bench loadtest worker migrate demo clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv==0.13.9"

# Re-sync whenever the lock changes.
$(VENV)/.synced: uv.lock pyproject.toml | $(BIN)/uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --quiet
	@touch $@

migrate: $(VENV)/.synced
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

# Serves the API on 127.0.0.1:$(PORT) with a Celery worker (and embedded beat) beside it.
# Logs are text lines here (LOG_FORMAT=json for JSON); the app writes the access lines, not gunicorn.
# The gunicorn workers share request metrics through $(METRICS_DIR), emptied at each start;
# /metrics is on when METRICS_TOKEN is set.
METRICS_DIR := $(CURDIR)/var/prometheus
run: demo
	@echo "Backcare on http://127.0.0.1:$(PORT)/api/v1/  (docs: /api/v1/docs/, health: /healthz)"
	@rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@trap 'trap - EXIT INT TERM; kill 0' EXIT INT TERM; \
	export LOG_FORMAT=$${LOG_FORMAT:-text}; \
	$(BIN)/celery -A config worker --beat --pool=solo --loglevel=INFO \
		--schedule=var/celerybeat-schedule & \
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) \
		$(BIN)/gunicorn config.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 & \
	wait

worker: $(VENV)/.synced
	$(BIN)/celery -A config worker --beat --pool=solo --loglevel=INFO --schedule=var/celerybeat-schedule

# Also validates docker-compose.yml against the Compose specification's JSON schema (the copy
# check-jsonschema ships, so no network).
lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(BIN)/mypy .
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

test: lint
	$(BIN)/pytest

# The bench also installs the `bench` dependency group (django-appointment, the peer of the
# availability_vs_peer figure); `make run` and `make test` never need it.
$(VENV)/.bench-synced: $(VENV)/.synced
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --quiet --group bench
	@touch $@

bench: $(VENV)/.bench-synced
	$(PY) -m bench

# Mixed load from 32 clients against gunicorn + a Celery worker on a private Postgres and Redis
# (started and removed by it), three runs: no fault, Postgres restarted, Redis restarted.
# LOADTEST_SECONDS (default 120) per run; table printed, results in var/loadtest.json.
loadtest: $(VENV)/.synced
	$(PY) -m loadtest

clean:
	rm -rf $(VENV) var
