"""Uploaded files whose row may still be rolled back.

A file is written to storage before the row that names it, inside a transaction: the
request's (ATOMIC_REQUESTS) or the service's own. Rolling the transaction back removes
the row but not the file, and Django has no on_rollback hook. So a service lists the
files it stored with the row they belong to; an on_commit callback takes them off the
list again, and at the end of every request whatever is still listed is deleted if its
row is not in the database.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

# The list lives on the connection (one per thread), like Django's own on_commit list.
_PENDING = "woningdossier_uncommitted_files"


def _pending(connection: Any) -> list[tuple[models.Model, tuple[str, ...]]]:
    pending = getattr(connection, _PENDING, None)
    if pending is None:
        pending = []
        setattr(connection, _PENDING, pending)
    return pending


def delete_on_rollback(row: models.Model, *names: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Delete these stored files again if the transaction that saved `row` does not commit."""
    connection = transaction.get_connection(using)
    entry = (row, tuple(name for name in names if name))
    _pending(connection).append(entry)

    def committed() -> None:
        pending = _pending(connection)
        if entry in pending:
            pending.remove(entry)

    transaction.on_commit(committed, using=using, robust=True)


def delete_rolled_back_files(**kwargs: Any) -> None:
    """Delete the files of rows that were rolled back; connected to request_finished."""
    for connection in connections.all(initialized_only=True):
        pending = getattr(connection, _PENDING, None)
        # An aborted transaction cannot be asked; the rollback that must follow will
        # still leave the list for the next call.
        if not pending or connection.needs_rollback:
            continue
        still_open = connection.in_atomic_block
        keep = []
        for row, names in pending:
            # The database has the last word: an on_commit callback that never ran (an
            # earlier callback raised) must not cost a committed row its files.
            if type(row)._base_manager.using(connection.alias).filter(pk=row.pk).exists():
                # Saved, and either committed or still inside an open transaction
                # (a test's, or a caller's that has not finished yet).
                if still_open:
                    keep.append((row, names))
                continue
            for name in names:
                default_storage.delete(name)
        setattr(connection, _PENDING, keep)
