"""Two staff members granting the last of a budget at the same moment (PostgreSQL locks)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.db.models import Sum

from nip import services
from nip.models import Application, Commitment
from tests.conftest import skip_or_fail
from tests.nip.builders import make_application

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_budget_check(monkeypatch):
    """Look at the budget, then wait: without the lock both would see the same room."""
    room = services.budget_room

    def slow(programme):
        result = room(programme)
        time.sleep(0.3)
        return result

    monkeypatch.setattr(services, "budget_room", slow)


def approve_at_once(applications, by, amount: str) -> tuple[list[Application], list[BaseException]]:
    barrier = threading.Barrier(len(applications))
    done: list[Application] = []
    errors: list[BaseException] = []

    def run(application):
        try:
            barrier.wait(timeout=10)
            fresh = Application.objects.get(pk=application.pk)
            done.append(
                services.application_approve(
                    application=fresh,
                    amounts={"energy_poverty": Decimal(amount)},
                    by=by,
                    version=fresh.version,
                )
            )
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(a,)) for a in applications]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return done, errors


def test_two_approvals_for_the_last_of_a_budget_grant_it_once(cast, nip, slow_budget_check):
    if connection.vendor != "postgresql":
        skip_or_fail("PostgreSQL (DATABASE_URL=postgres://...)")
    # € 80,000 energy-poverty budget, € 79,200 already committed: € 800 left.
    for _ in range(22):
        make_application(nip.programme, commitments={"energy_poverty": "3600"})
    first = make_application(nip.programme)
    second = make_application(nip.programme)
    for application in (first, second):
        services.application_evaluate(application=application)

    done, errors = approve_at_once([first, second], cast.municipality_staff, "800")

    assert len(done) == 1
    assert len(errors) == 1 and isinstance(errors[0], ValidationError)
    assert "energy_poverty" in errors[0].message_dict
    committed = Commitment.objects.filter(
        application__programme=nip.programme, source="energy_poverty"
    ).aggregate(total=Sum("amount_eur"))["total"]
    assert committed == Decimal("80000.00")
    statuses = sorted(
        Application.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    )
    assert statuses == ["approved", "intake"]
