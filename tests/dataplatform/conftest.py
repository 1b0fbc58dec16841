"""Fixtures for the data platform: a second municipality, and media in a temporary folder.

The cast's initiative A works in De Bilt (GM0310) and initiative B in Utrecht (GM1904);
the cast's municipality is De Bilt and its province covers both. Municipality B
(Utrecht) has its own staff member, for the "other organisation" side of every test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.models import Organisation, User
from accounts.roles import Role
from tests import builders


@dataclass
class DpCast:
    municipality_b: Organisation
    staff_b: User


@pytest.fixture
def dp(cast) -> DpCast:
    municipality_b = builders.make_organisation(
        Organisation.Kind.MUNICIPALITY,
        name="Gemeente Utrecht",
        slug="gemeente-utrecht",
        municipalities=("GM1904",),
    )
    staff_b = builders.make_member(
        municipality_b, Role.MUNICIPALITY_STAFF, email="staff@utrecht.example"
    )
    return DpCast(municipality_b=municipality_b, staff_b=staff_b)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
