#!/bin/sh
# The image's roles; the first argument picks one. Anything else runs as a command.
set -e
role=${1:-web}
[ $# -gt 0 ] && shift
case "$role" in
  web)
    export DATABASE_POOL_SIZE="${DATABASE_POOL_SIZE:-10}"
    exec uvicorn config.asgi:application --host 0.0.0.0 --port 8000 --lifespan off --ws websockets-sansio --no-proxy-headers "$@" ;;
  licenseapi)
    export APP_ROLE=licenseapi
    export DATABASE_POOL_SIZE="${DATABASE_POOL_SIZE:-10}"
    exec uvicorn config.asgi:application --host 0.0.0.0 --port 8000 --lifespan off --no-proxy-headers --workers "${WEB_CONCURRENCY:-2}" "$@" ;;
  worker)
    exec celery -A config worker --loglevel INFO --concurrency "${CELERY_CONCURRENCY:-4}" "$@" ;;
  beat)
    exec celery -A config beat --loglevel INFO --schedule /app/var/celerybeat-schedule "$@" ;;
  watcher)
    exec python manage.py watch_clusters "$@" ;;
  sandbox)
    exec python -m sandbox --host 0.0.0.0 "$@" ;;
  migrate)
    exec python manage.py migrate --noinput "$@" ;;
  *)
    exec "$role" "$@" ;;
esac
