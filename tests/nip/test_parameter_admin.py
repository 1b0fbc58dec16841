"""The administrator keeps the NIP parameters per year; a used set can no longer change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from nip import services
from nip.models import ParameterSet
from nip.parameters import parameters_on

pytestmark = pytest.mark.django_db

VALUES = "/beheer/nip/parametervalue/"
SETS = "/beheer/nip/parameterset/"


def change(client, parameter_set: ParameterSet, key: str, value: str):
    row = parameter_set.values.get(key=key)
    return client.post(
        f"{VALUES}{row.pk}/change/",
        {
            "parameter_set": parameter_set.pk,
            "key": row.key,
            "value": value,
            "unit": row.unit,
            "source": "nhg.nl, gecontroleerd",
            "verified": "on",
        },
    )


def test_the_set_in_force_follows_the_date(nip_parameters):
    assert parameters_on(dt.date(2023, 6, 1))[0].get("nhg_limit_eur") == Decimal("429300")
    assert parameters_on(dt.date(2025, 8, 1))[0].version == "nip-2025-2"


def test_the_administrator_fills_in_a_missing_figure(cast, nip_parameters, login):
    later = ParameterSet.objects.get(version="nip-2026-1")
    response = change(login(cast.admin), later, "income_norm.single_eur", "1390.00")
    assert response.status_code == 302
    row = later.values.get(key="income_norm.single_eur")
    assert (row.value, row.verified) == (Decimal("1390.00"), True)


def test_a_set_a_decision_used_is_locked_and_a_copy_takes_over(cast, nip_parameters, login):
    first = ParameterSet.objects.get(version="nip-2023")
    first.locked = True
    first.save()
    client = login(cast.admin)

    response = change(client, first, "nhg_limit_eur", "1")

    assert response.status_code == 403
    assert first.values.get(key="nhg_limit_eur").value == Decimal("429300")
    copy = services.parameter_set_copy(parameter_set=first)
    assert copy.values.count() == first.values.count()
    assert not copy.locked
    assert parameters_on(copy.valid_from)[0].version == copy.version


def test_only_the_administrator_reaches_the_parameters(cast, nip_parameters, client, login):
    assert client.get(SETS).status_code == 302
    assert login(cast.municipality_staff).get(SETS).status_code == 302
    assert login(cast.admin).get(SETS).status_code == 200
