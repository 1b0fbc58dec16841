"""The administrator keeps the calculation parameters as versioned data."""

from __future__ import annotations

import pytest

from dossier import advice, services
from dossier.models import ParameterSet, ParameterValue

pytestmark = pytest.mark.django_db

CHANGELIST = "/beheer/dossier/parameterset/"


VALUES = "/beheer/dossier/parametervalue/"


def change(client, parameter_set: ParameterSet, key: str, value: str):
    row = parameter_set.values.get(key=key)
    return client.post(
        f"{VALUES}{row.pk}/change/",
        {
            "parameter_set": parameter_set.pk,
            "key": row.key,
            "value": value,
            "unit": row.unit,
            "source": row.source,
        },
    )


def test_the_seeded_set_is_in_force_with_a_source_for_every_value():
    in_force = advice.parameter_set_on()

    assert in_force.version == "2024-1"
    assert not in_force.values.filter(source="").exists()
    assert advice.parameters_on().get("nip.amount_eur") == 1460


def test_a_copy_is_a_new_version_from_tomorrow_and_takes_over_then(cast):
    original = ParameterSet.objects.get(version="2024-1")

    copy = services.parameter_set_copy(parameter_set=original)

    assert copy.values.count() == original.values.count()
    assert advice.parameter_set_on().pk == original.pk
    assert advice.parameter_set_on(copy.valid_from).pk == copy.pk


def test_the_administrator_edits_an_unlocked_set(cast, login):
    copy = services.parameter_set_copy(parameter_set=ParameterSet.objects.get(version="2024-1"))
    client = login(cast.admin)

    response = change(client, copy, "price.gas_eur_per_m3", "1.30")

    assert response.status_code == 302
    assert advice.parameters_for(copy).get("price.gas_eur_per_m3") == 1.30


def test_the_admin_refuses_a_set_with_impossible_u_values(cast, login):
    copy = services.parameter_set_copy(parameter_set=ParameterSet.objects.get(version="2024-1"))
    client = login(cast.admin)

    response = change(client, copy, "u.roof.good", "9")

    assert response.status_code == 200
    assert "u.roof" in response.content.decode()
    assert copy.values.get(key="u.roof.good").value != 9


def test_a_locked_set_cannot_be_changed(cast, login):
    original = ParameterSet.objects.get(version="2024-1")
    original.locked = True
    original.save()
    client = login(cast.admin)

    response = change(client, original, "price.gas_eur_per_m3", "9")

    assert response.status_code == 403

    assert ParameterValue.objects.get(parameter_set=original, key="price.gas_eur_per_m3").value != 9


@pytest.mark.parametrize("who", ["coordinator", "alice", "charlie", "municipality_staff"])
def test_only_the_administrator_reaches_the_parameters(cast, login, who):
    client = login(getattr(cast, who))

    for url in (CHANGELIST, VALUES):
        assert client.get(url).status_code in (302, 403)


def test_an_anonymous_visitor_is_sent_to_the_login(client):
    response = client.get(CHANGELIST)

    assert response.status_code == 302
