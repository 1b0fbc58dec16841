"""Request transactions: all of them on PostgreSQL, only writing requests on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from dossier import exchange_views
from dossier.models import Message, ParameterSet, ParameterValue
from tests.test_security import PRODUCTION_ENV, run_manage

MIDDLEWARE = "config.middleware.WriteRequestTransactionMiddleware"
SHOW_SETTINGS = (
    "from django.conf import settings; "
    "print(settings.DATABASES['default']['ATOMIC_REQUESTS'], "
    f"'{MIDDLEWARE}' in settings.MIDDLEWARE)"
)


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        ("postgres://woningdossier:x@127.0.0.1:5432/woningdossier", "True False"),
        ("sqlite:////tmp/woningdossier-unused.sqlite3", "False True"),
    ],
)
def test_it_keeps_request_transactions_on_postgresql_and_only_writes_in_them_on_sqlite(
    database_url, expected
):
    env = {**PRODUCTION_ENV, "DATABASE_URL": database_url}
    result = run_manage("shell", "--no-imports", "-c", SHOW_SETTINGS, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.fixture
def sqlite_requests(settings, monkeypatch):
    """Handle requests as on the embedded SQLite default, whichever database runs the tests."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", False)
    if MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]


@pytest.fixture
def in_transaction(monkeypatch) -> list[bool]:
    """Whether the messages view ran inside a transaction, per request."""
    seen: list[bool] = []
    load = exchange_views._load

    def recording(*args, **kwargs):
        seen.append(connection.in_atomic_block)
        return load(*args, **kwargs)

    monkeypatch.setattr(exchange_views, "_load", recording)
    return seen


@pytest.mark.django_db(transaction=True)
def test_it_reads_outside_a_transaction_and_writes_inside_one(
    sqlite_requests, in_transaction, cast, login
):
    client = login(cast.alice)
    url = reverse("dossier:dossier-messages", args=[cast.household_a.dossier.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"body": "Hoi"}).status_code == 302
    assert in_transaction == [False, True]
    assert Message.objects.filter(body="Hoi").exists()


@pytest.mark.django_db(transaction=True)
def test_it_undoes_what_a_failing_writing_request_wrote(sqlite_requests, cast, login, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("the view fails after the service")

    monkeypatch.setattr("dossier.exchange_views.messages.success", fail)
    url = reverse("dossier:dossier-messages", args=[cast.household_a.dossier.pk])
    with pytest.raises(RuntimeError):
        login(cast.resident).post(url, {"body": "Hoi"})
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("embedded", [True, False])
def test_a_view_that_stores_nothing_opts_out_of_the_request_transaction(
    request, client, monkeypatch, embedded
):
    if embedded:
        request.getfixturevalue("sqlite_requests")
    else:
        monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    from dossier import calculations

    request.getfixturevalue("seeded_parameters")
    seen: list[bool] = []
    calculate = calculations.calculate

    def recording(*args, **kwargs):
        seen.append(connection.in_atomic_block)
        return calculate(*args, **kwargs)

    monkeypatch.setattr(calculations, "calculate", recording)
    body = '{"dwelling_type": "corner", "build_year": 1965, "floor_area_m2": 120}'
    response = client.post("/api/v1/advice/calculate/", body, content_type="application/json")
    assert response.status_code == 200
    assert seen == [False]


@pytest.mark.django_db(transaction=True)
def test_a_writing_request_that_is_refused_still_gets_its_error_page(
    sqlite_requests, seeded_parameters, cast, login
):
    # The admin refuses a change to a locked parameter set by raising PermissionDenied.
    # The 403 page queries (the menu needs the user's roles): it must not be rendered
    # inside the transaction the refusal rolled back.
    value = ParameterValue.objects.get(key="price.gas_eur_per_m3")
    ParameterSet.objects.filter(pk=value.parameter_set_id).update(locked=True)
    response = login(cast.admin).post(
        f"/beheer/dossier/parametervalue/{value.pk}/change/",
        {"parameter_set": value.parameter_set_id, "key": value.key, "value": "9", "source": "x"},
    )
    assert response.status_code == 403
    assert ParameterValue.objects.get(pk=value.pk).value == value.value
