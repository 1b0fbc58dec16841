"""Fixtures for the NIP: the seed's programme for the cast's municipality, and a second one.

Municipality A (the cast's) runs the seed's first-tranche programme; municipality B has
its own staff member and programme, for the "other organisation" side of every test.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest
from django.apps import apps

from accounts.models import Organisation, User
from accounts.roles import Role
from demo.nip_plan import programme_from_plan
from nip.models import Programme
from tests import builders


@pytest.fixture
def nip_parameters(db) -> None:
    """The NIP parameter sets the migration seeds, back after a transactional test's flush."""
    seed = importlib.import_module("nip.migrations.0002_seed_parameters")
    seed.seed(apps, None)


@dataclass
class NipCast:
    programme: Programme
    municipality_b: Organisation
    staff_b: User
    programme_b: Programme


@pytest.fixture
def nip(cast, nip_parameters) -> NipCast:
    municipality_b = builders.make_organisation(
        Organisation.Kind.MUNICIPALITY,
        name="Gemeente B",
        slug="gemeente-b",
        municipalities=("GM1904",),
    )
    staff_b = builders.make_member(
        municipality_b, Role.MUNICIPALITY_STAFF, email="staff@gemeente-b.example"
    )
    return NipCast(
        programme=programme_from_plan(cast.municipality),
        municipality_b=municipality_b,
        staff_b=staff_b,
        programme_b=programme_from_plan(municipality_b, name="Isolatieaanpak B"),
    )
