# One image for web, worker and beat (docker-compose.yml); dependencies from the lock only.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH \
    BACKCARE_VAR_DIR=/app/var
WORKDIR /app

RUN pip install --no-cache-dir "uv==0.13.9"
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
RUN useradd --create-home backcare && mkdir -p /app/var && chown -R backcare /app/var
USER backcare

EXPOSE 8000
# The app writes JSON access lines (LOG_FORMAT); the workers share /metrics through a fresh directory.
CMD ["sh", "-c", "rm -rf /tmp/prometheus && mkdir -p /tmp/prometheus && PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus exec gunicorn config.wsgi --bind 0.0.0.0:8000 --workers 3"]
