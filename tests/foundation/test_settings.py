"""Settings come from the environment, strictly: a malformed value stops start-up naming it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start_settings(**env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in env}
    full.update(env)
    full["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.DEBUG, settings.APP_ROLE, settings.DATABASES['default']['ENGINE'])"],
        cwd=ROOT, env=full, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_DEBUG", "maybe"),
        ("DATABASE_URL", "mysql-ish://nowhere"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("APP_ROLE", "everything"),
        ("CLOUDBUILD_ENDPOINT", "ftp://x"),
        ("DJANGO_SECRET_KEY", "short"),
        ("RECONCILE_INTERVAL_SECONDS", "soon"),
        ("API_TOKEN_RATE", "lots"),
        ("SLACK_API_URL", "slack.com"),
        ("EMAIL_URL", "imap://mail.example.com"),
        ("EMAIL_URL", "smtp://user:pw@mail.example.com:port"),
        ("AUDIT_HMAC_KEYS", "k1:too-short"),
        ("AUDIT_CHECKPOINT_URL", "s3://bucket/prefix"),
        ("TRUSTED_PROXIES", "-1"),
        ("HTTPS_ONLY", "sometimes"),
    ],
)
def test_it_refuses_to_start_on_a_malformed_value_naming_the_variable(name, value):
    result = start_settings(**{name: value})
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert f"{name} is malformed" in message
    assert value not in message  # values may be secrets: never echoed


def test_it_reads_secrets_from_a_file_and_never_echoes_them(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cr3t-" * 8)
    ok = start_settings(DJANGO_SECRET_KEY_FILE=str(secret))
    assert ok.returncode == 0, ok.stderr
    both = start_settings(DJANGO_SECRET_KEY_FILE=str(secret), DJANGO_SECRET_KEY="x" * 40)
    assert both.returncode != 0 and "both set" in both.stderr
    missing = start_settings(DJANGO_SECRET_KEY_FILE=str(tmp_path / "nope"))
    assert "DJANGO_SECRET_KEY_FILE cannot be read" in missing.stderr
    assert "s3cr3t" not in ok.stdout + ok.stderr + both.stderr


def test_it_keeps_debug_off_unless_asked_and_defaults_to_sqlite():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_DEBUG", "DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.DEBUG, settings.DATABASES['default']['ENGINE'], settings.REDIS_URL)"],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True, text=True, timeout=60,
    )
    debug, engine, redis_url = result.stdout.split()
    assert debug == "False"
    assert engine.endswith("sqlite3")
    assert redis_url.startswith("unix://") and redis_url.endswith("var/redis/redis.sock")
    assert start_settings(DJANGO_DEBUG="yes").stdout.startswith("True")


def test_it_configures_celery_for_crash_safety():
    from django.conf import settings

    from config.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"] and app.conf.task_serializer == "json"
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility > settings.CELERY_TASK_TIME_LIMIT
    assert "reconcile-active-releases" in app.conf.beat_schedule
    assert app.conf.broker_url.startswith(("redis://", "rediss://", "redis+socket://"))


def test_it_spells_a_unix_socket_redis_the_way_kombu_wants():
    from config.settings import kombu_url

    assert kombu_url("unix:///tmp/r.sock") == "redis+socket:///tmp/r.sock"
    assert kombu_url("unix:///tmp/r.sock?db=2") == "redis+socket:///tmp/r.sock?virtual_host=2"
    assert kombu_url("redis://h:6379/1") == "redis://h:6379/1"


def test_the_redis_cache_shares_one_pool_per_process_across_contexts():
    # Django keeps cache objects per async context: under ASGI that is per request, and the
    # stock backend opened a new Redis connection for each. The pool must be shared.
    import threading

    from django.core.cache import caches

    pools, backends = [], []

    def grab() -> None:
        backend = caches["default"]
        backends.append(backend)
        pools.append(backend._cache._get_connection_pool(True))

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grab()
    assert len({id(b) for b in backends}) == 4  # a backend object per thread (context) ...
    assert all(p is pools[0] for p in pools)  # ... and one pool behind them all


def test_it_reads_the_mail_server_from_email_url_and_the_password_from_a_file(tmp_path):
    password = tmp_path / "mail"
    password.write_text("m4il-pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings",
               EMAIL_URL="smtp+tls://licenses%40example.com@mail.example.com",
               EMAIL_PASSWORD_FILE=str(password), DEFAULT_FROM_EMAIL="licenses@example.com")
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings as s; "
         "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, s.EMAIL_HOST_USER, "
         "s.EMAIL_HOST_PASSWORD == 'm4il-pass', s.DEFAULT_FROM_EMAIL)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["mail.example.com", "587", "True", "False",
                                  "licenses@example.com", "True", "licenses@example.com"]
