# syntax=docker/dockerfile:1
# One image, many roles: web (dashboard ASGI), worker, beat, watcher, licenseapi, sandbox,
# migrate. The role is the container's first argument (see deploy/docker-entrypoint.sh).

FROM python:3.11-slim AS builder
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.lock pyproject.toml ./
# The runtime dependencies only (pyproject's `dependencies`, pinned by the lock as
# constraints): the lock also pins the dev extra (pytest, mypy, playwright...), which has no
# place in the image.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/runtime.txt
# A RUN of its own: the sandbox's simulated build fails a `bad...` commit at `RUN pip install`.
# hadolint ignore=DL3059
RUN pip install -c requirements.lock -r /tmp/runtime.txt
COPY config/ ./config/
COPY dashboard/ ./dashboard/
COPY licenseapi/ ./licenseapi/
COPY sandbox/ ./sandbox/
COPY deploy/ ./deploy/
COPY manage.py ./
RUN pip install --no-deps . \
    && DJANGO_SECRET_KEY=collectstatic-only-not-a-real-secret-0123456789 \
       python manage.py collectstatic --noinput -v 0

FROM python:3.11-slim
ARG COMMIT_SHA=unknown
LABEL org.opencontainers.image.revision=$COMMIT_SHA
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/app/var/prometheus \
    COMMIT_SHA=$COMMIT_SHA
WORKDIR /app
# git (and ssh for git@ URLs): deploying a branch or tag looks it up with `git ls-remote`.
# Unpinned on purpose: the base image's Debian release decides the version.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 appuser
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=1000:1000 /app ./
# var/prometheus: the metrics of every process of the pod/stack (a volume shared by them).
RUN mkdir -p /app/var/prometheus && chown -R 1000:1000 /app/var
USER 1000:1000
EXPOSE 8000
# Per role (deploy/healthcheck.py, standard library only): web and licenseapi over HTTP,
# worker by `celery inspect ping` of its own node, beat and watcher by their heartbeat files.
HEALTHCHECK --interval=30s --timeout=25s --start-period=30s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]
ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
CMD ["web"]
