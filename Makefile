# The two commands of the README, and the checks and benchmarks around them.
# `make run` and `make test` need nothing but Python 3.11+: the venv and its locked packages are
# created on first use. DATABASE_URL / REDIS_URL switch from SQLite + embedded broker to Postgres + Redis.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PORT   ?= 8000
export DJANGO_SETTINGS_MODULE := config.settings

.PHONY: run test lint bench worker migrate demo clean

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
run: demo
	@echo "Backcare on http://127.0.0.1:$(PORT)/api/v1/  (docs: /api/v1/docs/, health: /healthz)"
	@trap 'trap - EXIT INT TERM; kill 0' EXIT INT TERM; \
	$(BIN)/celery -A config worker --beat --pool=solo --loglevel=INFO \
		--schedule=var/celerybeat-schedule & \
	$(BIN)/gunicorn config.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 \
		--access-logfile - & \
	wait

worker: $(VENV)/.synced
	$(BIN)/celery -A config worker --beat --pool=solo --loglevel=INFO --schedule=var/celerybeat-schedule

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(BIN)/mypy .

test: lint
	$(BIN)/pytest

bench: $(VENV)/.synced
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
