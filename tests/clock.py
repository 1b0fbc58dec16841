"""The clock around midnight, for tests whose outcome names "today".

Dates shown to people and dates in file names are days in the Netherlands
(settings.TIME_ZONE, timezone.localdate()), while the database and the clock count in
UTC. Between 22:00/23:00 and 00:00 UTC the two disagree about the day. A test that
involves "today" runs at each of AROUND_MIDNIGHT: before midnight in both zones, after
midnight in Amsterdam only, and after midnight in both.

Used as a plugin (`pytest -p tests.clock`) with WD_FAKE_NOW set to an ISO moment, the
whole run starts at that moment and the clock runs on from there: to check that a test
module passes at any hour, e.g. `WD_FAKE_NOW=2026-12-07T23:58:00Z pytest -p tests.clock
tests/dataplatform`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import time_machine

# (the moment in UTC, that moment's day in Amsterdam)
AROUND_MIDNIGHT = [
    pytest.param(
        (dt.datetime(2026, 12, 7, 22, 30, tzinfo=dt.UTC), dt.date(2026, 12, 7)),
        id="2230Z-before-both",
    ),
    pytest.param(
        (dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC), dt.date(2026, 12, 8)),
        id="2330Z-after-amsterdam",
    ),
    pytest.param(
        (dt.datetime(2026, 12, 8, 0, 30, tzinfo=dt.UTC), dt.date(2026, 12, 8)),
        id="0030Z-after-both",
    ),
]


@contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[None]:
    """Stop the clock at the moment for what runs inside (sessions, mails, rows made)."""
    with time_machine.travel(moment, tick=False):
        yield


def day_around_midnight(request: pytest.FixtureRequest) -> Iterator[dt.date]:
    """The body of a fixture parametrized with AROUND_MIDNIGHT: the clock stands still at
    the moment while the test runs, and the test gets the day in Amsterdam."""
    moment, day = request.param
    with frozen_at(moment):
        yield day


_travel = None


def pytest_configure(config: pytest.Config) -> None:
    global _travel
    moment = os.environ.get("WD_FAKE_NOW")
    if moment:
        _travel = time_machine.travel(dt.datetime.fromisoformat(moment), tick=True)
        _travel.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _travel is not None:
        _travel.stop()


def pytest_report_header(config: pytest.Config) -> list[str]:
    moment = os.environ.get("WD_FAKE_NOW")
    return [f"clock: started at {moment} (WD_FAKE_NOW)"] if moment else []
