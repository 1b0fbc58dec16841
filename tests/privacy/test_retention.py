"""The nightly retention job and the coordinator's retention page.

Time moves with time-machine: the data is made "today", the job runs a day before and a
day after a period ends. Each run that removes something leaves one Removal as proof.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from auditlog.models import LogEntry
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from accounts import exports
from crm.models import Case, CaseStatus
from dataplatform.models import Channel, Purpose
from demo.nip_plan import programme_from_plan
from dossier.access_log import access_log
from dossier.models import Household, Photo
from nip.models import Application, MonitoringExport
from privacy import erasure, retention, tasks
from privacy.models import Removal, RetentionSetting
from tests.dataplatform.builders import give_consent
from tests.nip.builders import make_application

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run the job `days` after now (files are deleted by its on-commit callbacks)."""
    start = timezone.now()

    def _run(days: float) -> list[Removal]:
        with (
            time_machine.travel(start + days * DAY, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            return retention.purge()

    return _run


def make_photo(household: Household) -> Photo:
    return Photo.objects.create(
        dossier=household.dossier,
        image=ContentFile(b"jpeg", name="photo.jpg"),
        thumbnail=ContentFile(b"jpeg", name="thumb.jpg"),
        width=1,
        height=1,
    )


def open_case(household: Household) -> Case:
    return Case.objects.create(initiative=household.initiative, household=household)


def close(case: Case) -> None:
    case.status = CaseStatus.CLOSED
    case.closed_at = timezone.now()
    case.save()


def setting(organisation, category: str, days: int) -> None:
    RetentionSetting.objects.update_or_create(
        organisation=organisation, category=category, defaults={"days": days}
    )


def removals(rule: str, organisation=None) -> list[Removal]:
    found = Removal.objects.filter(rule=rule)
    if organisation is not None:
        found = found.filter(organisation=organisation)
    return list(found)


def keep_active(*households: Household) -> None:
    """An open case: the household is never erased as inactive."""
    for household in households:
        open_case(household)


# Photos -------------------------------------------------------------------------------------


def test_a_photo_goes_a_day_after_its_period_and_not_a_day_before(cast, run, media):
    keep_active(cast.household_b)
    photo = make_photo(cast.household_a2)
    files = [media / photo.image.name, media / photo.thumbnail.name]
    assert all(path.exists() for path in files)

    run(364)
    assert Photo.objects.filter(pk=photo.pk).exists()
    assert removals("photos") == []

    run(366)
    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert not any(path.exists() for path in files)
    [proof] = removals("photos")
    assert proof.organisation == cast.initiative_a
    assert proof.reason == Removal.Reason.RETENTION
    assert proof.details["dossier.Photo"] == {"deleted": 1}
    assert proof.details["ids"] == {"dossier.Photo": [photo.pk]}
    assert retention.removal_counts(proof) == {"dossier.Photo": 1}


def test_a_second_run_the_same_day_removes_nothing_and_proves_nothing(cast, run):
    make_photo(cast.household_a2)
    run(366)
    before = Removal.objects.count()

    assert run(366.5) == []
    assert Removal.objects.count() == before


def test_an_open_case_keeps_its_photos_until_a_period_after_it_closed(cast, run):
    case = open_case(cast.household_a2)
    photo = make_photo(cast.household_a2)

    run(400)
    assert Photo.objects.filter(pk=photo.pk).exists()

    with time_machine.travel(timezone.now() + 400 * DAY, tick=False):
        close(case)
    run(400 + 364)
    assert Photo.objects.filter(pk=photo.pk).exists()
    run(400 + 366)
    assert not Photo.objects.filter(pk=photo.pk).exists()


def test_another_initiatives_shorter_setting_leaves_this_ones_photos_alone(cast, run):
    setting(cast.initiative_b, "photos", 30)
    mine = make_photo(cast.household_a2)
    theirs = make_photo(cast.household_b)

    run(31)

    assert Photo.objects.filter(pk=mine.pk).exists()
    assert not Photo.objects.filter(pk=theirs.pk).exists()
    assert [r.organisation for r in removals("photos")] == [cast.initiative_b]


def test_a_changed_setting_applies_at_the_next_run(cast, run):
    photo = make_photo(cast.household_a2)
    run(100)
    assert Photo.objects.filter(pk=photo.pk).exists()

    setting(cast.initiative_a, "photos", 60)
    run(100)

    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert removals("photos", cast.initiative_a)[0].details["days"] == 60


def test_a_stored_value_below_the_minimum_is_read_as_the_minimum(cast, run):
    RetentionSetting.objects.create(organisation=cast.initiative_a, category="photos", days=1)
    photo = make_photo(cast.household_a2)

    run(29)
    assert Photo.objects.filter(pk=photo.pk).exists()
    run(31)
    assert not Photo.objects.filter(pk=photo.pk).exists()


def test_a_run_that_stops_half_way_keeps_what_it_finished_with_its_proof(cast, run, monkeypatch):
    photo = make_photo(cast.household_a2)
    other = make_photo(cast.household_b)
    access_log(actor=cast.coordinator, subject=cast.household_a2, page="household")
    setting(cast.initiative_a, "audit", 365)
    original = retention.PURGES["audit"]

    def broken(*, organisation, **kwargs):
        if organisation == cast.initiative_a:
            raise RuntimeError("worker lost")
        return original(organisation=organisation, **kwargs)

    monkeypatch.setitem(retention.PURGES, "audit", broken)
    with pytest.raises(RuntimeError):
        run(366)
    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert len(removals("photos", cast.initiative_a)) == 1
    assert removals("audit") == []
    # Initiative A's failure does not hold up initiative B.
    assert not Photo.objects.filter(pk=other.pk).exists()

    monkeypatch.undo()
    run(366)
    assert len(removals("photos", cast.initiative_a)) == 1
    assert len(removals("audit", cast.initiative_a)) == 1


# Inactive dossiers --------------------------------------------------------------------------


def test_an_inactive_household_is_erased_a_day_after_its_period(cast, run):
    keep_active(cast.household_a, cast.household_b)
    quiet = cast.household_a2
    consent = give_consent(quiet, Purpose.AGGREGATES)

    run(729)
    assert not erasure.is_erased(Household.objects.get(pk=quiet.pk))
    assert removals("inactive_dossiers") == []

    run(731)
    assert erasure.is_erased(Household.objects.get(pk=quiet.pk))
    [proof] = removals("inactive_dossiers")
    assert (proof.organisation, proof.household_id) == (cast.initiative_a, quiet.pk)
    assert proof.reason == Removal.Reason.RETENTION
    assert Household.objects.get(pk=cast.household_a.pk).name == "Familie Alfa"
    # The consent stays as proof, ended by the rule rather than by a request.
    consent.refresh_from_db()
    assert consent.withdrawal_channel == Channel.RETENTION and consent.withdrawn_by is None

    assert run(731.5) == []
    assert len(removals("inactive_dossiers")) == 1


def test_a_residents_login_and_a_case_closed_later_count_as_activity(cast, run):
    keep_active(cast.household_b)
    case = open_case(cast.household_a2)
    later = timezone.now() + 400 * DAY
    with time_machine.travel(later, tick=False):
        close(case)
        cast.resident.last_login = timezone.now()
        cast.resident.save(update_fields=["last_login"])

    run(731)
    assert removals("inactive_dossiers") == []

    run(400 + 731)
    erased = {r.household_id for r in removals("inactive_dossiers")}
    assert erased == {cast.household_a.pk, cast.household_a2.pk}


def test_an_open_case_keeps_a_quiet_household(cast, run):
    keep_active(cast.household_a, cast.household_a2, cast.household_b)

    run(1900)

    assert removals("inactive_dossiers") == []


def test_the_municipalitys_grant_records_survive_the_initiatives_periods(cast, run):
    keep_active(cast.household_a, cast.household_b)
    setting(cast.initiative_a, "inactive_dossiers", 365)
    setting(cast.initiative_a, "audit", 365)
    programme = programme_from_plan(cast.municipality)
    application = make_application(
        programme,
        dwelling=cast.household_a2.dwelling,
        household=cast.household_a2,
        commitments={"nip": "1460"},
    )
    application_entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Application), object_id=application.pk
    ).count()
    assert application_entries

    run(366)

    assert erasure.is_erased(Household.objects.get(pk=cast.household_a2.pk))
    application.refresh_from_db()
    assert application.commitments.count() == 1
    assert application.dwelling_id == cast.household_a2.dwelling_id
    assert (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Application),
            object_id=application.pk,
        ).count()
        >= application_entries
    )


# Audit entries --------------------------------------------------------------------------------


def entries_about(obj) -> int:
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).count()


def test_audit_entries_of_the_initiative_go_after_its_period_only(cast, run):
    keep_active(cast.household_a, cast.household_a2, cast.household_b)
    setting(cast.initiative_a, "audit", 365)
    for household in (cast.household_a2, cast.household_b):
        access_log(actor=cast.admin, subject=household, page="household")
    exports.export_log(
        actor=cast.coordinator, subject=cast.initiative_a, export="crm.cases", details={}
    )
    assert entries_about(cast.household_a2) and entries_about(cast.initiative_a)

    run(364)
    assert removals("audit") == []

    run(366)
    assert entries_about(cast.household_a2) == 0
    assert entries_about(cast.initiative_a) == 0
    # Initiative B keeps the default of two years.
    assert entries_about(cast.household_b) > 0
    [proof] = removals("audit")
    assert proof.organisation == cast.initiative_a
    assert proof.details["by_model"]["dossier.Household"] >= 1
    assert proof.details["by_model"]["accounts.Organisation"] >= 1  # made, changed, exported
    assert proof.details["auditlog.LogEntry"]["deleted"] == sum(proof.details["by_model"].values())

    assert run(366) == []


def test_audit_entries_go_in_one_statement_per_model_however_many_there_are(cast):
    now = timezone.now()

    def queries_for(entries: int) -> int:
        for _ in range(entries):
            access_log(actor=cast.admin, subject=cast.household_a2, page="household")
        with (
            time_machine.travel(now + 400 * DAY, tick=False),
            CaptureQueriesContext(connection) as captured,
        ):
            removal = retention.purge_audit(
                organisation=cast.initiative_a, days=365, now=timezone.now()
            )
        assert removal is not None
        assert removal.details["by_model"]["dossier.Household"] >= entries
        return len(captured)

    assert queries_for(2) == queries_for(40)


def test_entries_about_rows_that_are_gone_go_after_the_longest_period(cast, run):
    keep_active(cast.household_a, cast.household_a2, cast.household_b)
    photo = make_photo(cast.household_a2)
    photo_id = photo.pk
    photo.delete()
    gone = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Photo), object_id=photo_id
    )
    assert gone.exists()
    longest = retention.PERIODS["audit"].maximum

    run(longest - 1)
    assert gone.exists()

    run(longest + 1)
    assert not gone.exists()
    assert [r.organisation for r in removals("audit")].count(None) == 1


# Exports ------------------------------------------------------------------------------------


def test_a_municipalitys_stored_export_goes_after_the_default_period(cast, run, media):
    keep_active(cast.household_a, cast.household_a2, cast.household_b)
    programme = programme_from_plan(cast.municipality)
    export = MonitoringExport.objects.create(
        programme=programme,
        period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2025, 12, 31),
        format="csv",
        status="done",
        file=ContentFile(b"a;b", name="export.csv"),
    )
    path = media / export.file.name
    assert path.exists()

    run(29)
    assert MonitoringExport.objects.filter(pk=export.pk).exists()

    run(31)
    assert not MonitoringExport.objects.filter(pk=export.pk).exists()
    assert not path.exists()
    [proof] = removals("exports")
    assert proof.organisation == cast.municipality
    assert proof.details["nip.MonitoringExport"] == {"deleted": 1}
    # The programme itself is no export: it stays.
    programme.refresh_from_db()


# The schedule --------------------------------------------------------------------------------


def test_the_beat_schedule_runs_the_task_daily_and_the_task_runs_the_purge(cast, run):
    entry = django_settings.CELERY_BEAT_SCHEDULE["privacy-retention-purge"]
    assert entry["task"] == tasks.retention_purge.name == "privacy.tasks.retention_purge"
    assert entry["schedule"].hour == {3}

    photo = make_photo(cast.household_a2)
    with time_machine.travel(timezone.now() + 366 * DAY, tick=False):
        tasks.retention_purge.delay()

    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert len(removals("photos")) == 1


# The page ---------------------------------------------------------------------------------------


def page_url(organisation) -> str:
    return reverse("privacy:retention-settings", args=[organisation.slug])


def csv_url(organisation) -> str:
    return reverse("privacy:retention-removals-csv", args=[organisation.slug])


def form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        category: period.default for category, period in retention.PERIODS.items()
    }
    data.update(overrides)
    return data


def test_the_coordinator_sees_each_period_its_bounds_and_the_proof(cast, login):
    setting(cast.initiative_a, "photos", 90)
    mine = Removal.objects.create(
        reason=Removal.Reason.RETENTION,
        rule="photos",
        organisation=cast.initiative_a,
        details={"dossier.Photo": {"deleted": 3}},
    )
    theirs = Removal.objects.create(
        reason=Removal.Reason.RETENTION, rule="photos", organisation=cast.initiative_b
    )

    response = login(cast.coordinator).get(page_url(cast.initiative_a))

    assert response.status_code == 200
    html = response.content.decode()
    for category, period in retention.PERIODS.items():
        assert f'id="retention-{category}"' in html
        assert f'min="{period.minimum}"' in html and f'max="{period.maximum}"' in html
    assert 'data-days="90"' in html
    assert f'data-days="{retention.PERIODS["audit"].default}"' in html
    assert f'id="removal-{mine.pk}"' in html
    assert f'id="removal-{theirs.pk}"' not in html
    assert csv_url(cast.initiative_a) in html


def test_the_organisation_page_links_the_retention_page_for_its_coordinator_only(cast, login):
    url = reverse("accounts:organisation-detail", args=[cast.initiative_a.slug])

    assert page_url(cast.initiative_a) in login(cast.coordinator).get(url).content.decode()
    assert page_url(cast.initiative_a) not in login(cast.alice).get(url).content.decode()


@pytest.mark.parametrize("who", ["coordinator_b", "resident", "municipality_staff"])
def test_people_who_cannot_see_the_initiative_get_404(cast, login, who):
    client = login(getattr(cast, who))

    assert client.get(page_url(cast.initiative_a)).status_code == 404
    assert client.post(page_url(cast.initiative_a), form_data(photos=60)).status_code == 404
    assert client.get(csv_url(cast.initiative_a)).status_code == 404
    assert not RetentionSetting.objects.exists()


def test_a_coach_of_the_initiative_gets_403(cast, login):
    client = login(cast.alice)

    assert client.get(page_url(cast.initiative_a)).status_code == 403
    assert client.post(page_url(cast.initiative_a), form_data(photos=60)).status_code == 403
    assert client.get(csv_url(cast.initiative_a)).status_code == 403
    assert not RetentionSetting.objects.exists()


def test_a_municipality_has_no_retention_page(cast, login):
    client = login(cast.municipality_staff)

    assert client.get(page_url(cast.municipality)).status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(cast, client):
    for url in (page_url(cast.initiative_a), csv_url(cast.initiative_a)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    response = client.post(page_url(cast.initiative_a), form_data(photos=60))
    assert response.status_code == 302
    assert not RetentionSetting.objects.exists()


def test_the_coordinator_changes_a_period_and_the_change_is_logged(cast, login):
    response = login(cast.coordinator).post(page_url(cast.initiative_a), form_data(photos=60))

    assert response.status_code == 302
    stored = RetentionSetting.objects.get(organisation=cast.initiative_a)
    assert (stored.category, stored.days, stored.updated_by) == ("photos", 60, cast.coordinator)
    # Categories left at their default are not stored: they follow the default.
    assert RetentionSetting.objects.count() == 1
    entry = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(RetentionSetting))
    assert entry.actor == cast.coordinator
    assert entry.changes == {"days": ["365", "60"]}


@pytest.mark.parametrize(
    "overrides",
    [
        {"photos": 29},  # below the minimum
        {"audit": 100},  # accountability needs at least a year
        {"exports": 366},  # above the maximum
        {"inactive_dossiers": "twee jaar"},
        {"photos": ""},
        {"photos": 60, "audit": 2.5},  # one bad field: the good one is not saved either
        {"photos": None},  # left out of the request
    ],
)
def test_bad_input_is_shown_again_and_changes_nothing(cast, login, overrides):
    setting(cast.initiative_a, "photos", 90)

    data = {key: value for key, value in form_data(**overrides).items() if value is not None}
    response = login(cast.coordinator).post(page_url(cast.initiative_a), data)

    assert response.status_code == 422
    assert RetentionSetting.objects.get(organisation=cast.initiative_a).days == 90
    assert RetentionSetting.objects.count() == 1
    [category] = [c for c in overrides if c != "photos"] or ["photos"]
    period = retention.PERIODS[category]
    message = gettext("Enter a whole number of days from %(minimum)s to %(maximum)s.") % {
        "minimum": period.minimum,
        "maximum": period.maximum,
    }
    assert message in response.content.decode()


def test_the_proof_downloads_as_csv_with_counts_only(cast, login):
    Removal.objects.create(
        reason=Removal.Reason.RETENTION,
        rule="photos",
        organisation=cast.initiative_a,
        details={"dossier.Photo": {"deleted": 3}, "ids": {"dossier.Photo": [1, 2, 3]}},
    )
    Removal.objects.create(reason=Removal.Reason.RETENTION, rule="audit", organisation=None)

    response = login(cast.coordinator).get(csv_url(cast.initiative_a))

    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert len(lines) == 2
    assert ": 3" in lines[1]
    assert LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS, additional_data__export="privacy.removals"
    ).exists()
