"""Reminders and follow-up: the dossier reminder after a week, the follow-up three months
after the report, each sent once; the dossier and the report move the case."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from crm import pipeline, reminders, services, tasks
from crm.models import Case, CaseEvent, EventKind, Task, TaskKind
from dossier import advice_reports
from dossier import services as dossier_services
from dossier.models import Delivery, Dossier, DossierMeasure, MeasureStatus
from tests import builders

pytestmark = pytest.mark.django_db

SITE = "https://woningdossier.example.nl"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def site(settings, tmp_path):
    settings.SITE_URL = SITE
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a job or service as the worker would: what waits for the commit runs too."""

    def _run(function, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(**kwargs)

    return _run


def open_case(household, **fields) -> Case:
    fields.setdefault("contact_email", "bewoner@example.org")
    return services.case_open(household=household, **fields)


@pytest.fixture
def invited(cast, run) -> Case:
    """A case whose resident was invited (on START) and has no password yet."""
    household = builders.make_household(cast.initiative_a, name="Familie Delta")
    case = open_case(household)
    with time_machine.travel(START, tick=False):
        services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)
        run(services.case_invite_resident, case=case, actor=cast.coordinator)
    mail.outbox.clear()
    case.refresh_from_db()
    assert case.status == pipeline.DOSSIER_INVITED
    return case


def reminder_events(case) -> int:
    return CaseEvent.objects.filter(
        case=case, kind=EventKind.EMAIL_SENT, action=reminders.MAIL_DOSSIER_REMINDER
    ).count()


# The dossier reminder -------------------------------------------------------------------


def test_a_week_after_the_invitation_the_resident_gets_one_reminder_and_the_coach_a_task(
    cast, invited, run
):
    with time_machine.travel(START + dt.timedelta(days=6, hours=23), tick=False):
        assert run(reminders.dossier_reminders) == 0
    assert mail.outbox == []

    with time_machine.travel(START + dt.timedelta(days=7, hours=1), tick=False):
        assert run(reminders.dossier_reminders) == 1
        # Beat started the job twice (a restart, a second beat): nothing new.
        assert run(reminders.dossier_reminders) == 0

    task = Task.objects.get(case=invited)
    assert (task.kind, task.assignee, task.done_at) == (TaskKind.DOSSIER_REMINDER, cast.alice, None)
    assert task.dedupe_key == f"dossier_reminder:{invited.pk}"
    assert task.due_date == dt.date(2026, 3, 16)
    assert [m.to for m in mail.outbox] == [["bewoner@example.org"]]
    body = mail.outbox[0].body
    # The invitation's link expired after three days; the reminder carries a fresh one.
    link = re.search(r"https://\S+", body).group(0)
    assert link.startswith(SITE + "/uitnodiging/")
    # No name or address of the resident in the mail.
    assert "Delta" not in body and invited.household.dwelling.postcode not in body
    assert reminder_events(invited) == 1


def test_the_reminder_link_lets_the_resident_in(cast, invited, run, client):
    with time_machine.travel(START + dt.timedelta(days=8), tick=False):
        run(reminders.dossier_reminders)
        link = re.search(r"https://\S+", mail.outbox[0].body).group(0)
        response = client.get(link.removeprefix(SITE), follow=True)
    # The invitation page (choose a password), not an expired link or a login.
    assert response.status_code == 200
    assert b'type="password"' in response.content


def test_a_resident_with_a_password_gets_a_link_to_the_dossier(cast, invited, run):
    resident = invited.household.residents.get()
    resident.set_password("een-goed-wachtwoord-123")
    resident.save()
    with time_machine.travel(START + dt.timedelta(days=8), tick=False):
        run(reminders.dossier_reminders)
    overview = reverse("dossier:dossier-overview", kwargs={"pk": invited.household.dossier.pk})
    assert SITE + overview in mail.outbox[0].body


def test_a_mail_task_delivered_twice_sends_one_reminder(cast, invited, run):
    with time_machine.travel(START + dt.timedelta(days=8), tick=False):
        run(reminders.dossier_reminders)
    task = Task.objects.get(case=invited)
    assert reminders.dossier_reminder_send(task_id=task.pk) == 0
    tasks.dossier_reminder_mail.apply(args=[task.pk])
    assert len(mail.outbox) == 1
    assert reminder_events(invited) == 1


def test_a_finished_dossier_gets_no_reminder_and_moves_the_case(cast, invited, run):
    dossier = Dossier.objects.get(household=invited.household)
    resident = invited.household.residents.get()
    with time_machine.travel(START + dt.timedelta(days=3), tick=False):
        dossier_services.dossier_submit(dossier=dossier, actor=resident)
    invited.refresh_from_db()
    assert invited.status == pipeline.DOSSIER_FILLED_IN
    entered = CaseEvent.objects.get(case=invited, to_status=pipeline.DOSSIER_FILLED_IN)
    assert (entered.action, entered.actor) == (pipeline.MARK_DOSSIER_FILLED_IN, resident)
    with time_machine.travel(START + dt.timedelta(days=9), tick=False):
        assert run(reminders.dossier_reminders) == 0
    assert mail.outbox == []
    assert not Task.objects.filter(case=invited).exists()


def test_finishing_after_the_reminder_ticks_the_task_off_and_stops_its_mail(cast, invited):
    with time_machine.travel(START + dt.timedelta(days=8), tick=False):
        reminders.dossier_reminders()  # The mail task waits for the commit: not sent yet.
    task = Task.objects.get(case=invited)
    dossier = Dossier.objects.get(household=invited.household)
    dossier_services.dossier_submit(dossier=dossier, actor=invited.household.residents.get())
    task.refresh_from_db()
    assert task.done_at is not None
    assert reminders.dossier_reminder_send(task_id=task.pk) == 0
    assert mail.outbox == []


def test_submitting_a_dossier_without_a_case_or_after_the_visit_moves_nothing(cast, run):
    dossier = Dossier.objects.get(household=cast.household_a)
    dossier_services.dossier_submit(dossier=dossier, actor=cast.resident)  # No case at all.
    case = open_case(cast.household_a)
    services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)
    visit = services.visit_plan(
        case=case,
        coach=cast.alice,
        start=timezone.now() + dt.timedelta(days=2),
        duration_minutes=90,
        actor=cast.alice,
    )
    dossier_services.dossier_submit(dossier=dossier, actor=cast.resident)
    case.refresh_from_db()
    assert case.status == pipeline.VISIT_PLANNED
    assert visit.status == "planned"


# The report moves the case ------------------------------------------------------------


def visit_done(cast, household) -> Case:
    case = open_case(household)
    services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)
    visit = services.visit_plan(
        case=case,
        coach=cast.alice,
        start=timezone.now() + dt.timedelta(hours=1),
        duration_minutes=90,
        actor=cast.alice,
    )
    services.visit_done(
        visit=visit, actor=cast.alice, now=visit.planned_start + dt.timedelta(minutes=90)
    )
    case.refresh_from_db()
    return case


def test_a_mailed_report_is_in_the_contact_history_and_moves_the_case(cast, run):
    case = visit_done(cast, cast.household_a)
    dossier = Dossier.objects.get(household=cast.household_a)
    report = run(advice_reports.report_request, dossier=dossier, actor=cast.alice)
    report.refresh_from_db()
    assert report.sent_at is not None
    case.refresh_from_db()
    assert case.status == pipeline.REPORT_SENT
    assert CaseEvent.objects.filter(
        case=case, kind=EventKind.EMAIL_SENT, action=services.MAIL_REPORT
    ).exists()
    moved = CaseEvent.objects.get(case=case, to_status=pipeline.REPORT_SENT)
    assert (moved.action, moved.actor) == (pipeline.MARK_REPORT_SENT, None)


def test_a_printed_report_moves_the_case_once(cast, run):
    case = visit_done(cast, cast.household_a2)  # Familie Beta has no login: on paper.
    dossier = Dossier.objects.get(household=cast.household_a2)
    report = run(
        advice_reports.report_request, dossier=dossier, actor=cast.alice, delivery=Delivery.PRINT
    )
    case.refresh_from_db()
    assert case.status == pipeline.VISIT_DONE  # Made, not yet in the post.
    report.refresh_from_db()
    advice_reports.report_mark_printed(report=report, actor=cast.coordinator)
    advice_reports.report_mark_printed(report=report, actor=cast.coordinator)
    case.refresh_from_db()
    assert case.status == pipeline.REPORT_SENT
    assert CaseEvent.objects.filter(case=case, to_status=pipeline.REPORT_SENT).count() == 1
    assert not CaseEvent.objects.filter(case=case, action=services.MAIL_REPORT).exists()


def test_a_report_before_the_visit_is_recorded_keeps_the_status(cast):
    case = open_case(cast.household_a)
    services.case_assign(case=case, coach=cast.alice, actor=cast.coordinator)
    services.case_report_delivered(household_id=cast.household_a.pk, how="email", actor=None)
    case.refresh_from_db()
    assert case.status == pipeline.COACH_ASSIGNED
    assert CaseEvent.objects.filter(case=case, action=services.MAIL_REPORT).count() == 1


# The follow-up three months after the report ----------------------------------------------


@pytest.fixture
def reported(cast) -> Case:
    """Familie Alfa (with a login) got the report on START; two measures are advised."""
    with time_machine.travel(START, tick=False):
        case = visit_done(cast, cast.household_a)
        services.case_report_delivered(household_id=cast.household_a.pk, how="email", actor=None)
    case.refresh_from_db()
    assert case.status == pipeline.REPORT_SENT
    dossier = Dossier.objects.get(household=cast.household_a)
    for code in ("floor_insulation", "hr_glass"):
        DossierMeasure.objects.filter(dossier=dossier, measure_type__code=code).update(
            advice_priority="high"
        )
    DossierMeasure.objects.filter(dossier=dossier, measure_type__code="roof_insulation").update(
        status=MeasureStatus.WANTED_NOW
    )
    mail.outbox.clear()
    return case


def test_months_before_keeps_the_day_or_takes_the_last_of_the_month():
    at = dt.datetime(2026, 5, 31, 9, 0, tzinfo=dt.UTC)
    assert reminders.months_before(at, 3) == dt.datetime(2026, 2, 28, 9, 0, tzinfo=dt.UTC)
    assert reminders.months_before(at, 5) == dt.datetime(2025, 12, 31, 9, 0, tzinfo=dt.UTC)
    assert reminders.months_before(at, 15) == dt.datetime(2025, 2, 28, 9, 0, tzinfo=dt.UTC)


def test_three_months_after_the_report_the_follow_up_starts_once(cast, reported, run):
    with time_machine.travel(dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC), tick=False):
        assert run(reminders.follow_ups) == 0
    with time_machine.travel(dt.datetime(2026, 6, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        assert run(reminders.follow_ups) == 1
        assert run(reminders.follow_ups) == 0
    reported.refresh_from_db()
    assert reported.status == pipeline.FOLLOW_UP
    task = Task.objects.get(case=reported, kind=TaskKind.FOLLOW_UP)
    assert (task.assignee, task.dedupe_key) == (cast.alice, f"follow_up:{reported.pk}")
    assert [m.to for m in mail.outbox] == [["resident@example.org"]]
    link = SITE + reverse("crm:follow-up", kwargs={"pk": reported.household.dossier.pk})
    assert link in mail.outbox[0].body
    assert "Alfa" not in mail.outbox[0].body
    # The mail task delivered a second time sends nothing more.
    tasks.follow_up_mail.apply(args=[task.pk])
    assert len(mail.outbox) == 1


def test_a_household_without_login_gets_a_task_for_the_coach_only(cast, run):
    with time_machine.travel(START, tick=False):
        case = visit_done(cast, cast.household_a2)
        services.case_report_delivered(household_id=cast.household_a2.pk, how="print", actor=None)
    with time_machine.travel(START + dt.timedelta(days=100), tick=False):
        assert run(reminders.follow_ups) == 1
    assert Task.objects.get(case=case, kind=TaskKind.FOLLOW_UP).assignee == cast.alice
    assert mail.outbox == []


def test_a_paused_coach_leaves_the_task_to_the_coordinators(cast, reported, run):
    from crm.models import CoachProfile

    CoachProfile.objects.create(user=cast.alice, organisation=cast.initiative_a, is_active=False)
    with time_machine.travel(START + dt.timedelta(days=100), tick=False):
        run(reminders.follow_ups)
    assert Task.objects.get(case=reported, kind=TaskKind.FOLLOW_UP).assignee is None


def answer(client, dossier, **choices):
    data = {f"measure_{pk}": value for pk, value in choices.items()}
    return client.post(reverse("crm:follow-up", kwargs={"pk": dossier.pk}), data)


def measure(dossier, code) -> DossierMeasure:
    return DossierMeasure.objects.get(dossier=dossier, measure_type__code=code)


@pytest.mark.parametrize(
    ("now", "year"),
    [
        (dt.datetime(2026, 12, 31, 22, 30, tzinfo=dt.UTC), 2026),  # 23:30 in Amsterdam
        (dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC), 2027),  # 00:30 on New Year's Day
    ],
)
def test_a_measure_is_done_in_the_year_it_is_in_the_netherlands(cast, reported, run, now, year):
    with time_machine.travel(START + dt.timedelta(days=100), tick=False):
        run(reminders.follow_ups)
    dossier = Dossier.objects.get(household=cast.household_a)
    floor = measure(dossier, "floor_insulation")
    reminders.follow_up_record(
        dossier=dossier, taken={floor.pk: "third_party"}, actor=cast.resident, now=now
    )
    floor.refresh_from_db()
    assert (floor.status, floor.done_year) == ("done", year)


def test_the_residents_answer_marks_the_measures_done_and_counts_once(
    cast, reported, run, client, login
):
    with time_machine.travel(START + dt.timedelta(days=100), tick=False):
        run(reminders.follow_ups)
    dossier = Dossier.objects.get(household=cast.household_a)
    floor, glass, roof = (
        measure(dossier, c) for c in ("floor_insulation", "hr_glass", "roof_insulation")
    )
    login(cast.resident)
    page = client.get(reverse("crm:follow-up", kwargs={"pk": dossier.pk}))
    assert page.status_code == 200
    names = {f"measure_{m.pk}" for m in (floor, glass, roof)}
    assert names <= set(re.findall(r'name="(measure_\d+)"', page.content.decode()))

    response = answer(client, dossier, **{str(floor.pk): "third_party", str(glass.pk): "not_yet"})
    assert response.status_code == 302
    floor.refresh_from_db()
    glass.refresh_from_db()
    assert (floor.status, floor.done_by, floor.done_year) == (
        "done",
        "third_party",
        timezone.localdate().year,
    )
    assert glass.status == ""
    taken = CaseEvent.objects.filter(case=reported, kind=EventKind.MEASURE_TAKEN)
    assert [(e.text, e.coach, e.actor) for e in taken] == [
        (floor.measure_type.name, cast.alice, cast.resident)
    ]
    assert Task.objects.get(case=reported, kind=TaskKind.FOLLOW_UP).done_at is not None

    # A second tab sends the same answer again: recorded once.
    answer(client, dossier, **{str(floor.pk): "third_party"})
    assert taken.count() == 1


def test_bad_answers_change_nothing(cast, reported, client, login):
    dossier = Dossier.objects.get(household=cast.household_a)
    floor = measure(dossier, "floor_insulation")
    login(cast.resident)
    response = answer(client, dossier, **{str(floor.pk): "by_magic"})
    assert response.status_code == 200
    assert "utrecht-form-field--invalid" in response.content.decode()
    floor.refresh_from_db()
    assert floor.status == ""
    assert not CaseEvent.objects.filter(kind=EventKind.MEASURE_TAKEN).exists()


def test_the_coach_records_the_answer_given_by_phone(cast, reported, client, login):
    dossier = Dossier.objects.get(household=cast.household_a)
    glass = measure(dossier, "hr_glass")
    login(cast.alice)
    assert answer(client, dossier, **{str(glass.pk): "diy"}).status_code == 302
    glass.refresh_from_db()
    assert (glass.status, glass.done_by) == ("done", "diy")
    event = CaseEvent.objects.get(kind=EventKind.MEASURE_TAKEN)
    assert event.actor == cast.alice


@pytest.mark.parametrize("who", ["charlie", "coordinator_b", "bob", "other_resident"])
def test_the_follow_up_of_another_home_is_not_found(cast, reported, client, login, who):
    other = builders.make_user("ander@example.org")
    builders.make_household(cast.initiative_a, residents=(other,))
    user = other if who == "other_resident" else getattr(cast, who)
    dossier = Dossier.objects.get(household=cast.household_a)
    floor = measure(dossier, "floor_insulation")
    login(user)
    url = reverse("crm:follow-up", kwargs={"pk": dossier.pk})
    assert client.get(url).status_code == 404
    assert answer(client, dossier, **{str(floor.pk): "diy"}).status_code == 404
    floor.refresh_from_db()
    assert floor.status == ""


def test_the_follow_up_asks_for_a_login(cast, reported, client):
    dossier = Dossier.objects.get(household=cast.household_a)
    response = client.get(reverse("crm:follow-up", kwargs={"pk": dossier.pk}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# The schedule --------------------------------------------------------------------------


def test_beat_runs_both_jobs_every_day_and_they_exist():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    names = {entry["task"] for entry in schedule.values()}
    assert {"crm.tasks.dossier_reminders", "crm.tasks.follow_ups"} <= names
    celery_app.loader.import_default_modules()
    assert names <= set(celery_app.tasks)
    for name in ("crm-dossier-reminders", "crm-follow-ups"):
        # Once a day, in the morning.
        cron = schedule[name]["schedule"]
        assert cron.hour == {9} and len(cron.minute) == 1


def test_the_jobs_run_as_tasks(cast, invited, django_capture_on_commit_callbacks):
    with (
        time_machine.travel(START + dt.timedelta(days=8), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.dossier_reminders.apply()
    assert len(mail.outbox) == 1
