"""Settings and headers: the deploy checklist, CSP with nonces, login rate limits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from django.urls import reverse

from tests import builders
from tests.conftest import port_open, skip_or_fail

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 20 + "-a-long-random-production-like-key-for-the-check-0123456789",
    "DJANGO_ALLOWED_HOSTS": "woningdossier.example",
    "SITE_URL": "https://woningdossier.example",
    "DATABASE_URL": "sqlite:////tmp/unused.sqlite3",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@mail.woningdossier.example:587",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_passes_the_deploy_checklist_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_refuses_to_start_in_production_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_it_refuses_to_start_in_production_without_a_site_url():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SITE_URL"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SITE_URL" in result.stderr


@pytest.mark.django_db
def test_it_sends_a_strict_csp_with_a_fresh_nonce_on_every_page(client):
    first = client.get(reverse("account_login"))["Content-Security-Policy"]
    second = client.get(reverse("account_login"))["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in first
    assert "unsafe-inline" not in first and "unsafe-eval" not in first
    assert "frame-ancestors 'none'" in first
    nonce = re.search(r"'nonce-([^']+)'", first).group(1)
    assert nonce not in second


@pytest.mark.django_db
def test_it_sends_the_other_security_headers(client):
    response = client.get(reverse("account_login"))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_it_keeps_the_rate_limit_cache_shared_between_processes():
    backend = settings.CACHES["default"]["BACKEND"]
    assert "locmem" not in backend.lower() and "dummy" not in backend.lower()


def _fail_logins(client, email: str, times: int) -> None:
    for _ in range(times):
        client.post(reverse("account_login"), {"login": email, "password": "wrong-password-123"})


def _assert_locked_out(client, user) -> None:
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": builders.PASSWORD}
    )
    assert response.status_code in (200, 429)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_it_refuses_even_the_right_password_after_five_failed_logins(client):
    user = builders.make_user("victim@example.org")
    _fail_logins(client, user.email, 5)
    _assert_locked_out(client, user)


@pytest.mark.django_db
def test_it_accepts_the_right_password_after_fewer_failed_logins(client):
    user = builders.make_user("almost@example.org")
    _fail_logins(client, user.email, 2)
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": builders.PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.redis
@pytest.mark.django_db
def test_it_counts_failed_logins_in_redis_across_processes(client):
    if not port_open("127.0.0.1", 6379):
        skip_or_fail("Redis on 127.0.0.1:6379")
    redis_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": f"test-{os.getpid()}",
        }
    }
    with override_settings(CACHES=redis_cache):
        caches["default"].clear()
        user = builders.make_user("redis-victim@example.org")
        # A second process would see the same counters: here another client and a
        # fresh cache connection stand in for it.
        _fail_logins(client, user.email, 5)
        caches.close_all()
        from django.test import Client

        _assert_locked_out(Client(), user)
        caches["default"].clear()


def test_it_runs_on_postgresql_when_services_are_required():
    from tests.conftest import REQUIRE_SERVICES

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        skip_or_fail(f"PostgreSQL (DATABASE_URL is {engine})")
    assert REQUIRE_SERVICES or "postgresql" in engine
