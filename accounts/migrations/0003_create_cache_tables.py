"""The database cache tables of the configured caches, so `migrate` alone prepares the
embedded default (login rate limits live in the cache, config/settings.py CACHES).

The tables follow the settings, not the models: this runs Django's createcachetable, which
makes the table of every cache with the database backend and leaves alone any that exists
already. A Redis (or any other) cache has no table: then it does nothing. A cache table
added to the settings later still needs `manage.py createcachetable` (or a migration like
this one).
"""

from __future__ import annotations

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_add_api_token")]

    operations = [
        migrations.RunPython(create_cache_tables, migrations.RunPython.noop, elidable=False),
    ]
