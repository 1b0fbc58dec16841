"""Delivery of publications to the provincial data platform, through the outbox.

Each publication has one PublicationDelivery row, written in the same transaction as
the publication. `deliveries_send` (Celery beat, every minute) sends what is due, one
row at a time, and records the outcome on the row:

- 2xx, or 409 ("already received"): delivered.
- 408, 425, 429, 5xx, a timeout or a refused connection: still pending; tried again
  after min(6 hours, 1 minute * 2 ** (attempts - 1)), a little earlier at random so
  that many deliveries do not come back at the same moment. Nothing is lost.
- any other 4xx (and a redirect, which means the configured address is wrong): refused,
  not retried; the administrator sees it in the admin and can send it again
  (`delivery_retry`) once the cause is fixed.

Before each attempt the agreements are asked again: a publication holding a level that no
agreement in force allows any more (an agreement ended, or was narrowed), or counting an
initiative whose agreement no longer allows that level, is withheld, not sent, however
long it waited. The next publication follows the agreement as it is.

The request the platform receives
---------------------------------
``POST <DATAPLATFORM_ENDPOINT_URL>`` with the body from `publication_payload`: UTF-8
JSON with sorted keys and no whitespace, the same bytes on every attempt::

    {"cells":[{"area":"3731AB","count":12,"level":"pc6","measure":"households",
    "municipality":"GM0310","suppressed":false}, ...],"households":120,"id":"<uuid>",
    "k":10,"made_at":"2025-01-31T02:00:00+00:00","recipient":{"name":"Provincie
    Utrecht","slug":"provincie-utrecht"},"rules_version":"2025-1"}

A suppressed cell has ``"count": null`` and ``"suppressed": true``. Headers:

- ``Content-Type: application/json``
- ``Idempotency-Key: <uuid>``: the same on every attempt for one publication, so the
  platform stores it once; it may answer a repeat with 200 or 409.
- ``X-Woningdossier-Timestamp: <seconds since 1970, UTC>``: the time of this attempt.
- ``X-Woningdossier-Signature: sha256=<hex>``: HMAC-SHA256 with the shared key
  (DATAPLATFORM_SIGNING_KEY) over the ASCII timestamp, a full stop and the raw body:
  ``hmac(key, timestamp + "." + body)``.

The platform verifies with `verify_signature` (or its own copy of those few lines): it
recomputes the HMAC over the raw body as received, compares in constant time, and
refuses a timestamp more than a few minutes old so a captured request cannot be
replayed later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from auditlog.context import set_actor
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from dataplatform import tasks
from dataplatform.agreements import initiatives_sharing, levels_in_force
from dataplatform.models import (
    LEVEL_ORDER,
    DeliveryStatus,
    Publication,
    PublicationCell,
    PublicationDelivery,
)

logger = logging.getLogger(__name__)

BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=6)
# Up to this share of the wait is taken off at random, so the cap is never exceeded.
BACKOFF_JITTER = 0.1
SIGNATURE_SCHEME = "sha256"
TIMESTAMP_HEADER = "X-Woningdossier-Timestamp"
SIGNATURE_HEADER = "X-Woningdossier-Signature"
# A 4xx that says "not now" rather than "never": worth another try later.
RETRYABLE_4XX = frozenset({408, 425, 429})
# How much of a response is read and kept: enough to see why, no more.
RESPONSE_READ_BYTES = 2048
ERROR_CHARS = 200

# Warn once per process, not every minute, that nothing can be sent.
_unconfigured_warned = False


def publication_payload(publication: Publication) -> bytes:
    """The canonical JSON body of a publication: the same bytes on every call."""
    cells = sorted(
        publication.cells.all(),
        # Sorted here, not in SQL, so the order does not depend on the database's collation.
        key=lambda cell: (LEVEL_ORDER.index(cell.level), cell.area_code, cell.measure),
    )
    document = {
        "id": str(publication.pk),
        "recipient": {"slug": publication.recipient.slug, "name": publication.recipient.name},
        "made_at": publication.created_at.astimezone(dt.UTC).isoformat(),
        "rules_version": publication.rules_version,
        "k": publication.k,
        "households": publication.households,
        "cells": [
            {
                "level": cell.level,
                "area": cell.area_code,
                "municipality": cell.municipality_code,
                "measure": cell.measure,
                "count": None if cell.suppressed else cell.count,
                "suppressed": cell.suppressed,
            }
            for cell in cells
        ],
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def signature_for(body: bytes, timestamp: str, key: str) -> str:
    """The value of the signature header: ``sha256=`` and the HMAC of timestamp and body."""
    digest = hmac.new(key.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_SCHEME}={digest.hexdigest()}"


def verify_signature(
    body: bytes,
    timestamp: str,
    signature: str,
    key: str,
    *,
    max_age: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """True when `signature` is the sender's for this raw body and timestamp.

    With `max_age`, a timestamp older (or further in the future) than that is refused too.
    """
    if not key or not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if max_age is not None:
        moment = (now or timezone.now()).timestamp()
        if abs(moment - int(timestamp)) > max_age.total_seconds():
            return False
    expected = signature_for(body, timestamp, key).encode("ascii")
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the `attempts`-th failed attempt, before jitter."""
    exponent = max(attempts - 1, 0)
    # Compared before multiplying, so a delivery failing for months cannot overflow.
    if exponent >= 20:
        return BACKOFF_CAP
    return min(BACKOFF_CAP, BACKOFF_BASE * 2**exponent)


def next_attempt_after(attempts: int, now: dt.datetime) -> dt.datetime:
    wait = backoff(attempts)
    return now + wait * (1 - BACKOFF_JITTER * random.random())


@dataclass(frozen=True)
class _Response:
    """What came back from one attempt: a status code, or no answer at all."""

    status: int | None
    text: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 301/302 by a GET without the body and report the 200 of
    # whatever page it landed on: a redirect is an answer of its own here.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _short(text: str) -> str:
    return " ".join(text.split())[:ERROR_CHARS]


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> _Response:
    # deliveries_send only passes http(s) addresses, never file: or ftp:.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=timeout) as response:
            text = response.read(RESPONSE_READ_BYTES).decode("utf-8", "replace")
            return _Response(response.status, text)
    except urllib.error.HTTPError as error:
        try:
            text = error.read(RESPONSE_READ_BYTES).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            text = ""
        return _Response(error.code, text or str(error.reason))
    except urllib.error.URLError as error:
        return _Response(None, f"{type(error.reason).__name__}: {error.reason}")
    except (OSError, http.client.HTTPException) as error:
        # A timeout while reading, a connection closed before an answer: the platform
        # may have stored the publication, which is why the key stays the same.
        return _Response(None, f"{type(error).__name__}: {error}")


def _attempt(delivery: PublicationDelivery, *, url: str, key: str, now: dt.datetime) -> bool:
    """Send one delivery and record the outcome; True when the platform may be reached."""
    body = publication_payload(delivery.publication)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(delivery.idempotency_key),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature_for(body, timestamp, key),
    }
    response = _post(url, body, headers, settings.DATAPLATFORM_TIMEOUT)

    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = response.status
    status = response.status
    if status is not None and (200 <= status < 300 or status == 409):
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.last_error = ""
        outcome = "delivered"
    elif status is not None and status < 500 and status not in RETRYABLE_4XX:
        delivery.status = DeliveryStatus.REFUSED
        delivery.next_attempt_at = None
        delivery.last_error = _short(response.text) or f"HTTP {status}"
        outcome = "refused"
    else:
        delivery.next_attempt_at = next_attempt_after(delivery.attempts, now)
        delivery.last_error = _short(response.text) or f"HTTP {status}"
        outcome = "failed"
    delivery.save(
        update_fields=[
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
        ]
    )
    log = logger.warning if outcome != "delivered" else logger.info
    log(
        "Publication delivery %s (publication %s): %s, HTTP %s, attempt %s.",
        delivery.pk,
        delivery.publication_id,
        outcome,
        status,
        delivery.attempts,
    )
    return outcome != "failed"


def deliveries_send(now: dt.datetime | None = None) -> int:
    """Send the pending deliveries that are due; return how many were delivered.

    Each row is locked while it is sent (FOR UPDATE SKIP LOCKED), so a second worker
    passes it by instead of sending it again at the same moment; if the worker dies
    mid-send, the lock goes with its transaction and the row is due again, with the same
    idempotency key. (SQLite has no row locks; its IMMEDIATE transactions, see
    config/settings.py, let one writer in at a time, which gives the same.)

    The run stops at the first delivery the platform could not take (down, 5xx,
    timeout): the others stay due for the next run, and a platform that is down does not
    hold a worker for a timeout per delivery.
    """
    global _unconfigured_warned
    url = settings.DATAPLATFORM_ENDPOINT_URL
    key = settings.DATAPLATFORM_SIGNING_KEY
    started = now or timezone.now()
    if not url.startswith(("https://", "http://")) or not key:
        if not _unconfigured_warned and _due(started).exists():
            _unconfigured_warned = True
            logger.warning(
                "Publications wait to be delivered: DATAPLATFORM_ENDPOINT_URL (http or "
                "https) or DATAPLATFORM_SIGNING_KEY is not set."
            )
        return 0
    _unconfigured_warned = False

    delivered = 0
    tried: set[int] = set()
    while True:
        with transaction.atomic():
            delivery = (
                _due(started)
                .exclude(pk__in=tried)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("publication__recipient")
                .order_by("next_attempt_at", "pk")
                .first()
            )
            if delivery is None:
                return delivered
            tried.add(delivery.pk)
            moment = now or timezone.now()
            if not _still_allowed(delivery.publication, on=timezone.localdate(moment)):
                _withhold(delivery)
                continue
            reachable = _attempt(delivery, url=url, key=key, now=moment)
        if delivery.status == DeliveryStatus.DELIVERED:
            delivered += 1
        if not reachable:
            return delivered


def _still_allowed(publication: Publication, *, on: dt.date) -> bool:
    """Whether the agreements still allow every level the publication holds, for every
    initiative whose households it counts there: one initiative's agreement ending is
    enough to withhold it, even when another initiative still shares at that level."""
    allowed = levels_in_force(recipient=publication.recipient, on=on)
    if not allowed:
        return False
    for level, initiative_ids in publication.sources.items():
        sharing = initiatives_sharing(recipient=publication.recipient, level=level, on=on)
        if not set(initiative_ids) <= set(sharing):
            return False
    return (
        not PublicationCell.objects.filter(publication=publication)
        .exclude(level__in=allowed)
        .exists()
    )


def _withhold(delivery: PublicationDelivery) -> None:
    delivery.status = DeliveryStatus.WITHHELD
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "next_attempt_at"])
    logger.warning(
        "Publication delivery %s (publication %s): withheld, no agreement in force allows it.",
        delivery.pk,
        delivery.publication_id,
    )


def _due(now: dt.datetime) -> QuerySet[PublicationDelivery]:
    return PublicationDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    )


def delivery_retry(*, delivery: PublicationDelivery, actor: User) -> bool:
    """Put a refused delivery back in the queue, with the same idempotency key.

    Returns False when the delivery was not refused (already pending or delivered). The
    attempts start again from zero, so the first retry waits a minute, not six hours.
    """
    with transaction.atomic(), set_actor(actor):
        locked = PublicationDelivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status != DeliveryStatus.REFUSED:
            return False
        locked.status = DeliveryStatus.PENDING
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "attempts", "next_attempt_at"])
        logger.info(
            "Publication delivery %s (publication %s) queued again by user %s.",
            locked.pk,
            locked.publication_id,
            actor.pk,
        )
        tasks.deliveries_send.delay_on_commit()
    delivery.refresh_from_db()
    return True
