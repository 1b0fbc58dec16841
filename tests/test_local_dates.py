"""Dates a person reads are days in the Netherlands, also in the hour before midnight UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import Organisation
from dataplatform.models import ConsentRecord, Publication, Purpose
from privacy.models import Removal

# 00:30 on 8 December in Amsterdam, still the 7th in UTC.
LATE = dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("row", "shown"),
    [
        (ConsentRecord(purpose=Purpose.values[0], given_at=LATE), "(08-12-2026)"),
        (
            Publication(recipient=Organisation(name="Gemeente A"), created_at=LATE),
            "08-12-2026 00:30",
        ),
        (Removal(reason="", rule="", performed_at=LATE), "2026-12-08"),
    ],
    ids=["consent", "publication", "removal"],
)
def test_a_rows_name_shows_its_day_in_the_netherlands(row, shown):
    assert str(row).endswith(shown)
