"""Delivery of publications to the provincial platform: a real HTTP server on loopback.

The platform here checks the signature, stores what it accepts by idempotency key (a
repeat is answered 409 and not stored again), and can be told to fail in the ways a real
one does: 5xx, a refusal, a lost answer, a slow answer, or not running at all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib import messages
from django.db import OperationalError, connection, connections
from django.urls import reverse
from django.utils import timezone, translation

import dataplatform
import dataplatform.delivery_admin
from dataplatform import delivery, tasks
from dataplatform.models import (
    DeliveryStatus,
    Level,
    Publication,
    PublicationDelivery,
    SharingAgreement,
)
from tests.dataplatform.builders import make_agreement, make_publication

KEY = "test-signing-key-0123456789"
CELLS = [
    ("pc6", "3731AB", "GM0310", "households", 12),
    ("pc6", "3731AB", "GM0310", "label:D", None),
    ("neighbourhood", "BU03100001", "GM0310", "households", 40),
    ("municipality", "GM0310", "GM0310", "households", 120),
]
DELIVERIES = "/beheer/dataplatform/publicationdelivery/"
PUBLICATIONS = "/beheer/dataplatform/publication/"


class Platform:
    """The provincial platform on 127.0.0.1, scripted per request.

    `script` holds what to do with the next requests, one word each: "ok" (the default
    when empty), "503", "400", "302" (to /elsewhere), "drop" (store, then close without
    an answer) and "sleep" (store, then answer only after the client gave up).
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.stored: dict[str, bytes] = {}
        self.requests: list[tuple[str, int | None]] = []
        self.script: list[str] = []
        self.lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/publications"

    def start(self) -> None:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                platform.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers["Content-Length"]))
        key = request.headers["Idempotency-Key"]
        signed = delivery.verify_signature(
            body,
            request.headers["X-Woningdossier-Timestamp"],
            request.headers["X-Woningdossier-Signature"],
            self.key,
            max_age=dt.timedelta(minutes=5),
        )
        with self.lock:
            action = self.script.pop(0) if self.script else "ok"
            if not signed:
                status: int | None = 401
            elif action == "503":
                status = 503
            elif action in ("400", "302"):
                status = int(action)
            elif action in ("drop", "sleep"):
                self.stored.setdefault(key, body)
                status = None
            elif key in self.stored:
                status = 409
            else:
                self.stored[key] = body
                status = 200
            self.requests.append((key, status))
        if action == "sleep":
            time.sleep(1)
        if status is None:
            request.close_connection = True
            return
        text = {401: "bad signature", 400: "cells[3].level: unknown level"}.get(status, "ok")
        answer = json.dumps({"detail": text}).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            if status == 302:
                request.send_header("Location", "/elsewhere")
            request.send_header("Content-Length", str(len(answer)))
            request.end_headers()
            request.wfile.write(answer)
        except OSError:
            pass


@pytest.fixture
def platform(settings) -> Iterator[Platform]:
    server = Platform(KEY)
    server.start()
    settings.DATAPLATFORM_ENDPOINT_URL = server.url
    settings.DATAPLATFORM_SIGNING_KEY = KEY
    settings.DATAPLATFORM_TIMEOUT = 5
    yield server
    server.stop()


def make_delivery(
    publication: Publication, *, due: dt.datetime | None = None
) -> PublicationDelivery:
    return PublicationDelivery.objects.create(
        publication=publication, next_attempt_at=due or timezone.now()
    )


def published(cast, *, due: dt.datetime | None = None) -> PublicationDelivery:
    """A publication for the province, due for delivery, under an agreement in force."""
    if not SharingAgreement.objects.filter(recipient=cast.province).exists():
        make_agreement(cast.initiative_a, cast.province, Level.PC6)
    return make_delivery(make_publication(cast.province, CELLS), due=due)


def fresh(row: PublicationDelivery) -> PublicationDelivery:
    row.refresh_from_db()
    return row


def wait_after(row: PublicationDelivery, now: dt.datetime) -> dt.timedelta:
    assert row.next_attempt_at is not None
    return row.next_attempt_at - now


def within_jitter(wait: dt.timedelta, expected: dt.timedelta) -> bool:
    return expected * (1 - delivery.BACKOFF_JITTER) <= wait <= expected


# ---------------------------------------------------------------------------------------
# The payload and its signature


@pytest.mark.django_db
def test_the_payload_is_canonical_json_with_suppressed_cells_as_null(cast):
    publication = make_publication(cast.province, reversed(CELLS), k=10, rules_version="r-1")

    body = delivery.publication_payload(publication)

    document = json.loads(body)
    assert body == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert document["id"] == str(publication.pk)
    assert document["recipient"] == {"slug": "provincie", "name": "Provincie"}
    assert (document["rules_version"], document["k"]) == ("r-1", 10)
    assert dt.datetime.fromisoformat(document["made_at"]) == publication.created_at
    assert [(c["level"], c["area"], c["measure"], c["count"]) for c in document["cells"]] == [
        ("pc6", "3731AB", "households", 12),
        ("pc6", "3731AB", "label:D", None),
        ("neighbourhood", "BU03100001", "households", 40),
        ("municipality", "GM0310", "households", 120),
    ]
    assert document["cells"][1]["suppressed"] is True
    assert document["cells"][0]["municipality"] == "GM0310"


@pytest.mark.django_db
def test_the_payload_is_the_same_bytes_every_time(cast):
    publication = make_publication(cast.province, CELLS)
    first = delivery.publication_payload(publication)

    again = delivery.publication_payload(Publication.objects.get(pk=publication.pk))

    assert again == first


def test_the_signature_verifies_only_with_the_same_key_body_and_timestamp():
    body = b'{"id":"x"}'
    signature = delivery.signature_for(body, "1700000000", KEY)

    assert signature.startswith("sha256=")
    assert delivery.verify_signature(body, "1700000000", signature, KEY)
    assert not delivery.verify_signature(body, "1700000000", signature, "another-key")
    assert not delivery.verify_signature(body + b" ", "1700000000", signature, KEY)
    assert not delivery.verify_signature(body, "1700000001", signature, KEY)
    assert not delivery.verify_signature(body, "1700000000", signature, "")
    assert not delivery.verify_signature(body, "1700000000", "sha256=é", KEY)


def test_an_old_timestamp_is_refused_when_a_maximum_age_is_asked():
    body = b"{}"
    signed_at = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)
    timestamp = str(int(signed_at.timestamp()))
    signature = delivery.signature_for(body, timestamp, KEY)
    five = dt.timedelta(minutes=5)

    assert delivery.verify_signature(
        body, timestamp, signature, KEY, max_age=five, now=signed_at + dt.timedelta(minutes=4)
    )
    assert not delivery.verify_signature(
        body, timestamp, signature, KEY, max_age=five, now=signed_at + dt.timedelta(minutes=6)
    )


@pytest.mark.django_db
def test_a_platform_with_another_key_refuses_the_signature_and_stores_nothing(
    cast, platform, settings
):
    settings.DATAPLATFORM_SIGNING_KEY = "not-the-platforms-key"
    row = published(cast)

    delivery.deliveries_send()

    assert platform.requests == [(str(row.idempotency_key), 401)]
    assert platform.stored == {}
    assert fresh(row).status == DeliveryStatus.REFUSED
    assert row.last_status_code == 401


# ---------------------------------------------------------------------------------------
# Delivery, failure and retries


@pytest.mark.django_db
def test_a_publication_is_delivered_signed_with_its_idempotency_key(cast, platform):
    row = published(cast)

    assert delivery.deliveries_send() == 1

    row = fresh(row)
    assert row.status == DeliveryStatus.DELIVERED
    assert (row.attempts, row.last_status_code, row.last_error) == (1, 200, "")
    assert row.delivered_at is not None and row.next_attempt_at is None
    assert platform.stored == {
        str(row.idempotency_key): delivery.publication_payload(row.publication)
    }


@pytest.mark.django_db
def test_503_twice_then_recovered_delivers_once_after_doubling_waits(cast, platform):
    t0 = timezone.now()
    row = published(cast, due=t0)
    platform.script = ["503", "503"]

    assert delivery.deliveries_send(now=t0) == 0
    row = fresh(row)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.PENDING, 1, 503)
    first_wait = wait_after(row, t0)
    assert within_jitter(first_wait, dt.timedelta(minutes=1))

    # Not due yet: the next run sends nothing.
    assert delivery.deliveries_send(now=t0 + dt.timedelta(seconds=30)) == 0
    assert len(platform.requests) == 1

    t1 = row.next_attempt_at
    delivery.deliveries_send(now=t1)
    row = fresh(row)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 2)
    assert within_jitter(wait_after(row, t1), dt.timedelta(minutes=2))

    t2 = row.next_attempt_at
    assert delivery.deliveries_send(now=t2) == 1
    row = fresh(row)
    assert (row.status, row.attempts, row.delivered_at) == (DeliveryStatus.DELIVERED, 3, t2)
    assert list(platform.stored) == [str(row.idempotency_key)]
    assert [status for _, status in platform.requests] == [503, 503, 200]

    delivery.deliveries_send(now=t2 + dt.timedelta(days=1))
    assert len(platform.requests) == 3


@pytest.mark.django_db
def test_the_wait_doubles_up_to_six_hours(cast, platform):
    now = timezone.now()
    row = published(cast, due=now)
    platform.script = ["503"] * 12
    waits = []
    for _ in range(12):
        delivery.deliveries_send(now=now)
        row = fresh(row)
        waits.append(wait_after(row, now))
        now = row.next_attempt_at

    expected = [dt.timedelta(minutes=2**n) for n in range(9)] + [dt.timedelta(hours=6)] * 3
    assert all(within_jitter(w, e) for w, e in zip(waits, expected, strict=True)), waits
    assert row.attempts == 12 and row.status == DeliveryStatus.PENDING
    assert platform.stored == {}


def test_the_backoff_before_jitter():
    assert [delivery.backoff(n) for n in (1, 2, 3, 9, 10, 11, 1000)] == [
        dt.timedelta(minutes=1),
        dt.timedelta(minutes=2),
        dt.timedelta(minutes=4),
        dt.timedelta(minutes=256),
        dt.timedelta(hours=6),
        dt.timedelta(hours=6),
        dt.timedelta(hours=6),
    ]


@pytest.mark.django_db
def test_a_platform_that_is_down_loses_nothing_and_gets_it_once_when_back(cast, platform):
    t0 = timezone.now()
    row = published(cast, due=t0)
    platform.stop()

    assert delivery.deliveries_send(now=t0) == 0

    row = fresh(row)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.PENDING, 1, None)
    assert "refused" in row.last_error.lower()
    assert row.next_attempt_at > t0

    platform.start()  # the same port
    assert delivery.deliveries_send(now=row.next_attempt_at) == 1

    assert fresh(row).status == DeliveryStatus.DELIVERED
    assert row.attempts == 2
    assert platform.requests == [(str(row.idempotency_key), 200)]
    assert list(platform.stored) == [str(row.idempotency_key)]


@pytest.mark.django_db
def test_a_stop_of_the_platform_stops_the_run_and_the_rest_stay_due(cast, platform):
    t0 = timezone.now()
    first = published(cast, due=t0 - dt.timedelta(minutes=1))
    second = published(cast, due=t0)
    platform.stop()

    delivery.deliveries_send(now=t0)

    assert fresh(first).attempts == 1
    assert fresh(second).attempts == 0 and second.next_attempt_at == t0


@pytest.mark.django_db
@pytest.mark.parametrize("lost", ["drop", "sleep"])
def test_a_lost_answer_is_retried_without_a_second_copy(cast, platform, settings, lost):
    settings.DATAPLATFORM_TIMEOUT = 0.3
    t0 = timezone.now()
    row = published(cast, due=t0)
    platform.script = [lost]

    assert delivery.deliveries_send(now=t0) == 0
    row = fresh(row)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.PENDING, 1, None)
    assert ("timed out" in row.last_error) == (lost == "sleep")
    assert list(platform.stored) == [str(row.idempotency_key)]

    assert delivery.deliveries_send(now=row.next_attempt_at) == 1

    row = fresh(row)
    assert (row.status, row.last_status_code) == (DeliveryStatus.DELIVERED, 409)
    assert platform.requests == [(str(row.idempotency_key), None), (str(row.idempotency_key), 409)]
    assert len(platform.stored) == 1


@pytest.mark.django_db
def test_a_refusal_is_not_retried_and_the_administrator_sends_it_again(
    cast, platform, login, django_capture_on_commit_callbacks
):
    t0 = timezone.now()
    refused = published(cast, due=t0)
    delivered = published(cast, due=t0 + dt.timedelta(seconds=1))
    platform.script = ["400"]
    delivery.deliveries_send(now=t0)
    delivery.deliveries_send(now=t0 + dt.timedelta(seconds=1))

    refused = fresh(refused)
    assert (refused.status, refused.attempts, refused.last_status_code) == (
        DeliveryStatus.REFUSED,
        1,
        400,
    )
    assert refused.last_error == '{"detail": "cells[3].level: unknown level"}'
    assert refused.next_attempt_at is None
    delivery.deliveries_send(now=t0 + dt.timedelta(days=30))
    assert len(platform.requests) == 2
    assert fresh(delivered).status == DeliveryStatus.DELIVERED

    client = login(cast.admin)
    page = client.get(DELIVERIES)
    assert page.status_code == 200
    html = page.content.decode()
    with translation.override(page["Content-Language"]):
        refused_text = str(DeliveryStatus.REFUSED.label)
    assert refused_text in html
    # Refused first, above the delivered one.
    assert html.index(f"{refused.pk}/change/") < html.index(f"{delivered.pk}/change/")
    only_refused = client.get(DELIVERIES, {"status": "refused"}).content.decode()
    assert f"{refused.pk}/change/" in only_refused
    assert f"{delivered.pk}/change/" not in only_refused

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            DELIVERIES, {"action": "send_again", "_selected_action": [refused.pk, delivered.pk]}
        )
    assert response.status_code == 302
    refused_key = refused.idempotency_key
    refused = fresh(refused)
    assert (refused.status, refused.attempts) == (DeliveryStatus.PENDING, 0)
    assert refused.idempotency_key == refused_key
    assert fresh(delivered).status == DeliveryStatus.DELIVERED
    assert len(callbacks) == 1  # deliveries_send is enqueued

    callbacks[0]()  # the task, run in-process

    assert fresh(refused).status == DeliveryStatus.DELIVERED
    assert platform.stored[str(refused_key)] == delivery.publication_payload(refused.publication)
    assert len(platform.stored) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["ended", "narrowed"])
def test_a_publication_the_agreement_no_longer_allows_is_withheld_not_sent(
    cast, platform, caplog, how
):
    row = published(cast)
    agreement = SharingAgreement.objects.get(recipient=cast.province)
    agreement.ended_at = timezone.now() - dt.timedelta(minutes=1)
    agreement.save()
    if how == "narrowed":
        # A new agreement at neighbourhood level: the publication's postcode cells may not go.
        make_agreement(cast.initiative_a, cast.province, Level.NEIGHBOURHOOD, reference="DSA-2")
    assert delivery.deliveries_send() == 0
    assert platform.requests == []
    row = fresh(row)
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.WITHHELD, 0, None)
    assert "withheld" in caplog.text
    # A publication made under the new agreement goes as usual.
    if how == "narrowed":
        allowed = [cell for cell in CELLS if cell[0] != "pc6"]
        newer = make_delivery(make_publication(cast.province, allowed))
        assert delivery.deliveries_send() == 1
        assert fresh(newer).status == DeliveryStatus.DELIVERED


def test_a_publication_counting_an_initiative_whose_agreement_ended_is_withheld(cast, platform):
    """Initiative B still shares at postcode-6 level; initiative A's agreement ended."""
    row = published(cast)
    make_agreement(cast.initiative_b, cast.province, Level.PC6)
    Publication.objects.filter(pk=row.publication_id).update(
        sources={"pc6": [cast.initiative_a.pk, cast.initiative_b.pk]}
    )
    SharingAgreement.objects.filter(initiative=cast.initiative_a).update(
        ended_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert delivery.deliveries_send() == 0
    assert platform.requests == []
    assert fresh(row).status == DeliveryStatus.WITHHELD


def test_a_redirect_is_not_followed_but_shown_as_refused(cast, platform):
    row = published(cast)
    platform.script = ["302"]

    delivery.deliveries_send()

    row = fresh(row)
    assert (row.status, row.last_status_code) == (DeliveryStatus.REFUSED, 302)
    assert platform.requests == [(str(row.idempotency_key), 302)]
    assert platform.stored == {}


@pytest.mark.django_db
def test_send_again_leaves_a_delivery_that_was_not_refused(cast):
    row = published(cast)

    assert delivery.delivery_retry(delivery=row, actor=cast.admin) is False

    assert fresh(row).status == DeliveryStatus.PENDING


@pytest.mark.django_db
def test_without_an_endpoint_nothing_is_tried_and_it_is_said_once(
    cast, settings, caplog, monkeypatch
):
    monkeypatch.setattr(delivery, "_unconfigured_warned", False)
    settings.DATAPLATFORM_ENDPOINT_URL = ""
    settings.DATAPLATFORM_SIGNING_KEY = KEY
    row = published(cast)

    with caplog.at_level(logging.WARNING, logger="dataplatform.delivery"):
        assert delivery.deliveries_send() == 0
        assert delivery.deliveries_send() == 0

    row = fresh(row)
    assert (row.status, row.attempts, row.last_attempt_at) == (DeliveryStatus.PENDING, 0, None)
    assert len([r for r in caplog.records if r.name == "dataplatform.delivery"]) == 1


@pytest.mark.django_db
def test_log_lines_carry_ids_only(cast, platform, caplog):
    row = published(cast)
    platform.script = ["503"]

    with caplog.at_level(logging.INFO, logger="dataplatform.delivery"):
        delivery.deliveries_send()

    text = caplog.text
    assert str(row.pk) in text and str(row.publication_id) in text
    assert cast.province.name not in text and KEY not in text


# ---------------------------------------------------------------------------------------
# Two workers at once


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_publication_once(cast, platform, monkeypatch):
    rows = [published(cast) for _ in range(6)]
    # Each send takes a moment, so the two runs overlap for the whole batch.
    post = delivery._post

    def slow_post(*args, **kwargs):
        time.sleep(0.05)
        return post(*args, **kwargs)

    monkeypatch.setattr(delivery, "_post", slow_post)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(1000):
                try:
                    delivery.deliveries_send()
                    return
                except OperationalError as exc:
                    # SQLite's in-memory test database is one shared cache, whose lock
                    # fails a second writer at once where a database file (and
                    # PostgreSQL) makes it wait: wait here instead.
                    if connection.vendor != "sqlite" or "locked" not in str(exc):
                        raise
                    time.sleep(0.01)
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    keys = [key for key, _ in platform.requests]
    assert sorted(keys) == sorted(str(row.idempotency_key) for row in rows)
    assert all(status == 200 for _, status in platform.requests)
    assert all(fresh(row).status == DeliveryStatus.DELIVERED for row in rows)
    assert all(row.attempts == 1 for row in rows)


# ---------------------------------------------------------------------------------------
# The tasks


@pytest.mark.django_db
def test_the_task_sends_what_is_due(cast, platform):
    row = published(cast)

    tasks.deliveries_send.delay()

    assert fresh(row).status == DeliveryStatus.DELIVERED
    assert list(platform.stored) == [str(row.idempotency_key)]


@pytest.mark.django_db
def test_making_publications_sends_them_after_commit(
    cast, platform, monkeypatch, django_capture_on_commit_callbacks
):
    made: list[PublicationDelivery] = []
    fake = types.ModuleType("dataplatform.publication")
    fake.publications_make = lambda: made.append(published(cast))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dataplatform.publication", fake)
    monkeypatch.setattr(dataplatform, "publication", fake, raising=False)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.publications_make.delay()

    assert len(made) == 1
    assert fresh(made[0]).status == DeliveryStatus.DELIVERED
    assert list(platform.stored) == [str(made[0].idempotency_key)]


# ---------------------------------------------------------------------------------------
# The admin pages


@pytest.mark.django_db
def test_the_admin_front_page_says_when_a_delivery_was_refused(cast, login):
    row = published(cast)
    row.status = DeliveryStatus.REFUSED
    row.save()

    page = login(cast.admin).get("/beheer/")

    assert page.status_code == 200
    shown = list(page.context["messages"])
    assert [m.level for m in shown] == [messages.WARNING]
    assert "1" in str(shown[0])
    assert f'href="{DELIVERIES}?status=refused"' in page.content.decode()


@pytest.mark.django_db
def test_the_admin_front_page_is_quiet_without_refusals(cast, login):
    published(cast)

    page = login(cast.admin).get("/beheer/")

    assert list(page.context["messages"]) == []


@pytest.mark.django_db
def test_the_administrator_sees_publications_and_deliveries(cast, login):
    row = published(cast)
    client = login(cast.admin)

    for url in (
        DELIVERIES,
        f"{DELIVERIES}{row.pk}/change/",
        PUBLICATIONS,
        f"{PUBLICATIONS}{row.publication_id}/change/",
    ):
        assert client.get(url).status_code == 200, url
    listing = client.get(PUBLICATIONS)
    assert listing.context["cl"].result_list[0].cell_count == len(CELLS)
    assert reverse("admin:dataplatform_publicationdelivery_change", args=[row.pk]) in (
        listing.content.decode()
    )


@pytest.mark.django_db
def test_the_administrator_cannot_change_or_delete_a_delivery(cast, login):
    row = published(cast)
    client = login(cast.admin)

    changed = client.post(f"{DELIVERIES}{row.pk}/change/", {"status": "delivered"})
    deleted = client.post(f"{DELIVERIES}{row.pk}/delete/", {"post": "yes"})
    added = client.get(f"{DELIVERIES}add/")

    assert changed.status_code == 403
    assert deleted.status_code == 403
    assert added.status_code == 403
    assert fresh(row).status == DeliveryStatus.PENDING


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["coordinator", "province_analyst", "municipality_staff", None])
def test_the_admin_pages_are_closed_to_everyone_else(cast, client, login, who):
    row = published(cast)
    row.status = DeliveryStatus.REFUSED
    row.save()
    if who is not None:
        client = login(getattr(cast, who))

    for url in (DELIVERIES, f"{DELIVERIES}{row.pk}/change/", PUBLICATIONS):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/beheer/login/"), url
    sent = client.post(DELIVERIES, {"action": "send_again", "_selected_action": [row.pk]})
    assert sent.status_code == 302
    assert fresh(row).status == DeliveryStatus.REFUSED
