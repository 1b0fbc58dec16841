"""`manage.py migrate` alone prepares the embedded default, the database cache included."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
migration = importlib.import_module("accounts.migrations.0003_create_cache_tables")


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )


def test_migrate_alone_makes_the_cache_of_a_fresh_database_work(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CACHE_URL", "DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"  # the embedded default's cache
    manage("migrate", "--no-input", "-v", "0", env=env)
    check = (
        "from django.core.cache import cache; cache.set('wd-probe', 'kept', 60); "
        "print(cache.get('wd-probe'))"
    )
    assert manage("shell", "-c", check, env=env).stdout.split()[-1] == "kept"

    # Back and forth again: the table is there already, the migration leaves it be.
    manage("migrate", "accounts", "0002", "--no-input", "-v", "0", env=env)
    manage("migrate", "--no-input", "-v", "0", env=env)
    assert manage("shell", "-c", check, env=env).stdout.split()[-1] == "kept"


@pytest.mark.django_db
def test_the_migration_makes_only_database_cache_tables_and_only_once(settings):
    table = "wd_cache_probe"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # never reached: it has no table
        },
    }
    # RunPython hands over the schema editor; only its connection is used.
    editor = SimpleNamespace(connection=connection)
    migration.create_cache_tables(None, editor)
    assert table not in connection.introspection.table_names()

    settings.CACHES["db"] = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": table,
    }
    for _ in range(2):
        migration.create_cache_tables(None, editor)
    assert table in connection.introspection.table_names()
