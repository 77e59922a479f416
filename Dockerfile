# syntax=docker/dockerfile:1
# One image, many roles: web (dashboard ASGI), worker, beat, watcher, licenseapi, sandbox,
# migrate. The role is the container's first argument (see deploy/docker-entrypoint.sh).

FROM python:3.11-slim AS builder
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.lock pyproject.toml ./
RUN pip install -r requirements.lock
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
RUN mkdir -p /app/var && chown 1000:1000 /app/var
USER 1000:1000
EXPOSE 8000
# Standard library only: no requests in the runtime image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request; p='/health/live' if os.environ.get('APP_ROLE')=='licenseapi' else '/healthz'; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000'+p, timeout=4).status == 200 else 1)"]
ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
CMD ["web"]
