"""The outbox's own job: beat runs it every minute, and a worker sends it when it starts."""

from __future__ import annotations

from celery import shared_task

from outbox import relay


@shared_task
def drain() -> None:
    """Hand the tasks that wait in the outbox (the broker was away) to the broker."""
    relay.drain()
