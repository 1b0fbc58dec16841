"""A monitoring export whose worker died is made again once its lease runs out.

The real kill is in tests/test_worker_faults.py; here the dead run is the row as a killed
worker leaves it, and the sweep runs in-process.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from nip import monitoring, tasks
from nip.models import ExportStatus, MonitoringExport
from tests.nip.builders import make_measure
from tests.nip.test_monitoring import granted, request_export

pytestmark = pytest.mark.django_db

LEASE = dt.timedelta(seconds=120)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def sweep(now, capture) -> int:
    with capture(execute=True):
        return monitoring.monitoring_exports_sweep(now=now)


def test_an_export_whose_worker_died_is_made_again_after_its_lease_and_only_then(
    nip, media, django_capture_on_commit_callbacks
):
    for _ in range(2):
        make_measure(granted(nip.programme))
    with mock.patch.object(tasks.monitoring_export_make, "apply_async"):
        export = request_export(nip, fmt="csv")
    start = timezone.now()
    # The row as a run leaves it when its worker is killed while it writes.
    MonitoringExport.objects.filter(pk=export.pk).update(
        status=ExportStatus.RUNNING, attempts=1, lease_until=start + LEASE
    )

    assert sweep(start + LEASE - dt.timedelta(seconds=1), django_capture_on_commit_callbacks) == 0
    export.refresh_from_db()
    assert (export.status, export.attempts) == (ExportStatus.RUNNING, 1)

    assert sweep(start + LEASE + dt.timedelta(seconds=1), django_capture_on_commit_callbacks) == 1
    export.refresh_from_db()
    assert (export.status, export.attempts) == (ExportStatus.DONE, 2)
    assert (export.rows_total, export.rows_done) == (2, 2)
    assert export.lease_until is None
    assert sorted(p.name for p in media.rglob("*") if p.is_file()) == [
        export.file.name.split("/")[-1]
    ]
    assert sweep(start + 100 * LEASE, django_capture_on_commit_callbacks) == 0


def test_an_export_holds_a_lease_while_it_is_made(nip, media, monkeypatch):
    make_measure(granted(nip.programme))
    with mock.patch.object(tasks.monitoring_export_make, "apply_async"):
        export = request_export(nip, fmt="csv")
    assert export.lease_until > timezone.now()
    claimed_at = timezone.now()
    seen: list[dt.datetime] = []
    write = monitoring.monitoring_file_write

    def watching_write(target, **kwargs):
        seen.append(MonitoringExport.objects.get(pk=export.pk).lease_until)
        write(target, **kwargs)

    monkeypatch.setattr(monitoring, "monitoring_file_write", watching_write)
    monitoring.monitoring_export_make(export_id=export.pk)
    assert seen and seen[0] >= claimed_at + LEASE
    export.refresh_from_db()
    assert export.status == ExportStatus.DONE and export.lease_until is None


def test_a_waiting_export_whose_task_was_lost_is_sent_again_after_a_quarter_hour(
    nip, media, django_capture_on_commit_callbacks
):
    make_measure(granted(nip.programme))
    with mock.patch.object(tasks.monitoring_export_make, "apply_async"):
        export = request_export(nip, fmt="csv")
    asked = export.created_at
    assert sweep(asked + dt.timedelta(minutes=14), django_capture_on_commit_callbacks) == 0
    assert sweep(asked + dt.timedelta(minutes=16), django_capture_on_commit_callbacks) == 1
    export.refresh_from_db()
    assert (export.status, export.attempts) == (ExportStatus.DONE, 1)
