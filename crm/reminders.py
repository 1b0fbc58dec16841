"""The automatic follow-up of cases: the dossier reminder and the follow-up after the report.

Celery beat starts the two jobs every day (CELERY_BEAT_SCHEDULE). A job finds the cases
that are due and makes one task per case under a fixed key (Task.dedupe_key); only a
task that is new enqueues its mail, and the mail task records what it sent. A job that
runs twice, or a mail task delivered twice, therefore sends nothing twice.

- Seven days after the invitation, a resident who has not finished the dossier gets a
  reminder with a fresh link, and the coach a task to call if it stays empty.
- Three months after the report went out, the resident is asked which measures they
  took; their answers mark those measures done in the dossier. The coach gets a task
  to ask by phone, which the resident's answer ticks off.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from crm import pipeline, services, tasks
from crm.models import Case, CaseEvent, EventKind, Task, TaskKind
from dossier import services as dossier_services
from dossier.models import DossierMeasure, DossierSection, MeasureStatus, Section

if TYPE_CHECKING:
    from collections.abc import Callable

    from accounts.models import User
    from dossier.models import Dossier

REMINDER_AFTER = dt.timedelta(days=7)
FOLLOW_UP_AFTER_MONTHS = 3
# How long the coach has for the phone call the task asks for.
TASK_DAYS = 7
MAIL_DOSSIER_REMINDER = "dossier_reminder_mail"
MAIL_FOLLOW_UP = "follow_up_mail"
FOLLOW_UP_ANSWERED = "follow_up_answered"
MEASURE_TAKEN = "measure_taken"
WANTED = (MeasureStatus.WANTED_NOW, MeasureStatus.LATER)


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` calendar months earlier; a 31st becomes the last day."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _coach_of(case: Case) -> User | None:
    coach = case.household.assigned_coach
    if coach is not None and services.is_available_coach(user=coach, case=case):
        return coach
    # Without a coach who can act, the task goes to the initiative's coordinators.
    return None


def _title(text: str) -> str:
    # The title is stored, and a worker has no request: write it in the site's language.
    with translation.override(settings.LANGUAGE_CODE):
        return _(text)


# The dossier reminder ------------------------------------------------------------------


def dossier_reminders_due(*, now: dt.datetime | None = None) -> QuerySet[Case]:
    """Invited cases whose resident has not finished the dossier a week after the invitation."""
    now = now or timezone.now()
    return (
        Case.objects.filter(
            status=pipeline.DOSSIER_INVITED,
            household__dossier__invited_at__lte=now - REMINDER_AFTER,
            household__dossier__submitted_at__isnull=True,
        )
        .exclude(tasks__kind=TaskKind.DOSSIER_REMINDER)
        .select_related("household__assigned_coach")
        .order_by("pk")
    )


def dossier_reminders(*, now: dt.datetime | None = None) -> int:
    """Make the reminder task of each due case and enqueue its mail; returns how many are new."""
    now = now or timezone.now()
    made = 0
    for case in dossier_reminders_due(now=now):
        with transaction.atomic():
            task, created = services.task_ensure(
                case=case,
                assignee=_coach_of(case),
                title=_title("Call the resident if the dossier is still not filled in"),
                due_date=timezone.localdate(now) + dt.timedelta(days=TASK_DAYS),
                actor=None,
                kind=TaskKind.DOSSIER_REMINDER,
                dedupe_key=f"dossier_reminder:{case.pk}",
            )
            if created:
                tasks.dossier_reminder_mail.delay_on_commit(task.pk)
                made += 1
    return made


def _claim_mail(task_id: int, kind: str, action: str) -> Task | None:
    """The task row, locked, when its mail is still to be sent; None otherwise."""
    task = (
        # Only the task's row: PostgreSQL cannot lock the outer-joined dossier.
        Task.objects.select_for_update(of=("self",))
        .select_related("case__household__dossier", "case__initiative")
        .filter(pk=task_id, kind=kind, done_at__isnull=True)
        .first()
    )
    if task is None:
        return None
    sent = CaseEvent.objects.filter(kind=EventKind.EMAIL_SENT, action=action, task=task)
    return None if sent.exists() else task


def _mail_residents(task: Task, *, action: str, template: str, link: Callable[[User], str]) -> int:
    """Mail the household's residents with a login the task's mail; returns how many.

    Called inside the task's row lock (_claim_mail): a second run waits, then finds the
    timeline line this adds. The mail holds a link, never the name or the address.
    """
    case = task.case
    residents = [u for u in case.household.residents.all() if u.is_active and u.email]
    for user in residents:
        context = {"initiative": case.initiative.name, "link": link(user)}
        with translation.override(settings.LANGUAGE_CODE):
            subject = render_to_string(f"emails/{template}-subject.txt", context).strip()
            body = render_to_string(f"emails/{template}-body.txt", context)
        send_mail(subject, body, None, [user.email])
    if residents:
        services.event_add(case, EventKind.EMAIL_SENT, None, action=action, task=task)
    return len(residents)


def _dossier_link(user: User, dossier: Dossier) -> str:
    """A link that lets this resident in: a fresh invitation while they have no password."""
    if user.has_usable_password():
        path = reverse("dossier:dossier-overview", kwargs={"pk": dossier.pk})
    else:
        path = reverse(
            "dossier:invitation-accept",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    return settings.SITE_URL + path


def dossier_reminder_send(*, task_id: int) -> int:
    """Mail the reminder of this task to the household's residents, once; returns mails sent.

    Nothing goes out when the resident finished the dossier since (the task is done) or
    when this mail went out already (a task delivered twice).
    """
    with transaction.atomic():
        task = _claim_mail(task_id, TaskKind.DOSSIER_REMINDER, MAIL_DOSSIER_REMINDER)
        if task is None:
            return 0
        case = task.case
        dossier = case.household.dossier
        if case.status != pipeline.DOSSIER_INVITED or dossier.submitted_at is not None:
            return 0
        return _mail_residents(
            task,
            action=MAIL_DOSSIER_REMINDER,
            template="dossier-reminder",
            link=lambda user: _dossier_link(user, dossier),
        )


# The follow-up three months after the report ----------------------------------------------


def follow_ups_due(*, now: dt.datetime | None = None) -> QuerySet[Case]:
    """Cases whose (latest) report went out three months ago or longer, not yet followed up."""
    now = now or timezone.now()
    return (
        Case.objects.filter(status=pipeline.REPORT_SENT)
        .annotate(
            report_sent_at=Max(
                "events__created_at", filter=Q(events__action=pipeline.MARK_REPORT_SENT)
            )
        )
        .filter(report_sent_at__lte=months_before(now, FOLLOW_UP_AFTER_MONTHS))
        .exclude(tasks__kind=TaskKind.FOLLOW_UP)
        .select_related("household__assigned_coach")
        .order_by("pk")
    )


@transaction.atomic
def _follow_up_start(case: Case, now: dt.datetime) -> bool:
    task, created = services.task_ensure(
        case=case,
        assignee=_coach_of(case),
        title=_title("Ask the resident which measures they have taken"),
        due_date=timezone.localdate(now) + dt.timedelta(days=TASK_DAYS * 2),
        actor=None,
        kind=TaskKind.FOLLOW_UP,
        dedupe_key=f"follow_up:{case.pk}",
    )
    if not created:
        return False
    # Someone may have moved the case on since the query; the task stands all the same.
    with contextlib.suppress(ValidationError):
        services.case_transition(case=case, action=pipeline.START_FOLLOW_UP, actor=None)
    tasks.follow_up_mail.delay_on_commit(task.pk)
    return True


def follow_ups(*, now: dt.datetime | None = None) -> int:
    """Start the follow-up of each due case; returns how many were started now."""
    now = now or timezone.now()
    return sum(_follow_up_start(case, now) for case in follow_ups_due(now=now))


def follow_up_send(*, task_id: int) -> int:
    """Ask the residents with a login which measures they took, once; returns mails sent."""
    with transaction.atomic():
        task = _claim_mail(task_id, TaskKind.FOLLOW_UP, MAIL_FOLLOW_UP)
        if task is None:
            return 0
        dossier = task.case.household.dossier
        link = settings.SITE_URL + reverse("crm:follow-up", kwargs={"pk": dossier.pk})
        return _mail_residents(
            task, action=MAIL_FOLLOW_UP, template="follow-up", link=lambda user: link
        )


def follow_up_measures(*, dossier: Dossier) -> QuerySet[DossierMeasure]:
    """The measures the follow-up asks about: advised or wanted, and not done yet."""
    return (
        dossier.measures.select_related("measure_type")
        .filter(~Q(advice_priority="") | Q(status__in=WANTED))
        .exclude(status=MeasureStatus.DONE)
        .order_by("measure_type__sort_order", "pk")
    )


@transaction.atomic
def follow_up_record(
    *, dossier: Dossier, taken: dict[int, str], actor: User, now: dt.datetime | None = None
) -> list[DossierMeasure]:
    """Record the follow-up's answer: `taken` maps measure ids to who did the work.

    The measures are marked done this year in the dossier (through the dossier's own
    save, so each change keeps its source), one line per measure goes in the case's
    timeline, and the follow-up task is ticked off. A measure done already, or not of
    this dossier, is left alone: answering twice records it once.
    """
    now = now or timezone.now()
    # The lock of the measures topic orders this save after any other one in progress.
    section = DossierSection.objects.select_for_update().get(
        dossier=dossier, section=Section.MEASURES
    )
    open_measures = {m.pk: m for m in follow_up_measures(dossier=dossier)}
    newly = {pk: by for pk, by in taken.items() if pk in open_measures}
    if newly:
        dossier_services.section_save(
            dossier=dossier,
            section=Section.MEASURES,
            version=section.version,
            actor=actor,
            measures={
                # The year in the Netherlands: 23:30 UTC on 31 December is already next year.
                pk: {
                    "status": MeasureStatus.DONE,
                    "done_year": timezone.localdate(now).year,
                    "done_by": by,
                }
                for pk, by in newly.items()
            },
            on_behalf_of_resident=True,
        )
    case = (
        Case.objects.select_for_update()
        .select_related("household")
        .filter(household_id=dossier.household_id)
        .order_by("-created_at")
        .first()
    )
    if case is not None:
        coach = case.household.assigned_coach
        for pk in newly:
            services.event_add(
                case,
                EventKind.MEASURE_TAKEN,
                actor,
                action=MEASURE_TAKEN,
                coach=coach,
                text=open_measures[pk].measure_type.name,
            )
        services.event_add(case, EventKind.MESSAGE, actor, action=FOLLOW_UP_ANSWERED)
        Task.objects.filter(case=case, kind=TaskKind.FOLLOW_UP, done_at__isnull=True).update(
            done_at=now
        )
    return [open_measures[pk] for pk in newly]
