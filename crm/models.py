"""Cases and what hangs off them: the timeline, visits, tasks, and the coaches' profiles.

A case is one request for help from one household, from sign-up until it is closed or
withdrawn. Its status moves only through the services (see pipeline.py), and every
move, note, call, mail, assignment, visit and task is one row in its timeline.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from auditlog.registry import auditlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import AccessQuerySet, Action, Policy
from accounts.roles import Role
from crm import pipeline
from dossier.models import YesNoUnknown

VISIT_MINUTES_MIN = 15
VISIT_MINUTES_MAX = 8 * 60


def _case_policy(prefix: str) -> Policy:
    """Coordinators of the initiative and the household's assigned coach; no residents yet.

    The coach is reached through the household's assigned_coach (not a copy on the case),
    so a reassignment ends the old coach's access to the case, its timeline, visits and
    tasks in the same write that ends their access to the dossier.
    """
    return Policy(
        organisation=f"{prefix}initiative",
        roles={
            Action.VIEW: frozenset({Role.COORDINATOR}),
            Action.CHANGE: frozenset({Role.COORDINATOR}),
        },
        coach=f"{prefix}household__assigned_coach",
        coach_actions=frozenset({Action.VIEW, Action.CHANGE}),
    )


class CaseStatus(models.TextChoices):
    NEW = pipeline.NEW, _("new")
    COACH_ASSIGNED = pipeline.COACH_ASSIGNED, _("coach assigned")
    DOSSIER_INVITED = pipeline.DOSSIER_INVITED, _("invited to fill in the dossier")
    DOSSIER_FILLED_IN = pipeline.DOSSIER_FILLED_IN, _("dossier filled in")
    VISIT_PLANNED = pipeline.VISIT_PLANNED, _("visit planned")
    VISIT_DONE = pipeline.VISIT_DONE, _("visit done")
    REPORT_SENT = pipeline.REPORT_SENT, _("report sent")
    FOLLOW_UP = pipeline.FOLLOW_UP, _("follow-up")
    CLOSED = pipeline.CLOSED, _("closed")
    WITHDRAWN = pipeline.WITHDRAWN, _("withdrawn")


class HeardVia(models.TextChoices):
    WEBSITE = "website", _("the initiative's website")
    SOCIAL_MEDIA = "social_media", _("social media")
    NEWSPAPER = "newspaper", _("a local newspaper")
    NEIGHBOUR = "neighbour", _("a neighbour, friend or family")
    EVENT = "event", _("an information evening or market")
    MUNICIPALITY = "municipality", _("the municipality")
    OTHER = "other", _("other")


class Case(models.Model):
    """One household's request for help, from sign-up to closed or withdrawn."""

    # Always the household's initiative (case_open sets it); kept on the case so the
    # coordinator's queue filters on one indexed column.
    initiative = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("initiative"),
        limit_choices_to={"kind": "initiative"},
    )
    # PROTECT: the case holds the contact history and the proof of the privacy
    # statement the resident accepted. Removing a household is an erasure, which must
    # deal with its cases on purpose, never as a side effect of a delete elsewhere.
    household = models.ForeignKey(
        "dossier.Household",
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("household"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=CaseStatus.choices, default=CaseStatus.NEW
    )
    wants_help_with = models.TextField(_("wants help with"), blank=True, max_length=2000)
    heard_via = models.CharField(
        _("heard of the initiative via"), max_length=20, choices=HeardVia.choices, blank=True
    )
    # Empty: the initiative did not ask.
    is_member = models.CharField(
        _("member of the initiative"), max_length=10, choices=YesNoUnknown.choices, blank=True
    )
    # Some residents have no e-mail address: they are reached by phone or on paper.
    contact_email = models.EmailField(_("e-mail address"), blank=True)
    contact_phone = models.CharField(_("phone number"), max_length=20, blank=True)
    privacy_statement_version = models.CharField(
        _("version of the privacy statement"), max_length=20, blank=True
    )
    privacy_accepted_at = models.DateTimeField(
        _("privacy statement accepted at"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _case_policy("")

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["created_at"]
        indexes = [models.Index(fields=["initiative", "status"], name="case_queue")]
        constraints = [
            # A double sign-up, or a second coordinator opening one, gives one open case.
            models.UniqueConstraint(
                fields=["household"],
                condition=~Q(status__in=sorted(pipeline.ENDED)),
                name="case_one_open_per_household",
                violation_error_message=_("This household already has an open case."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=pipeline.STATUSES), name="case_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=sorted(pipeline.ENDED), closed_at__isnull=False)
                | (~Q(status__in=sorted(pipeline.ENDED)) & Q(closed_at__isnull=True)),
                name="case_closed_at_when_ended",
            ),
            # Acceptance is recorded with the text's version, or not at all.
            models.CheckConstraint(
                condition=Q(privacy_statement_version="", privacy_accepted_at__isnull=True)
                | (~Q(privacy_statement_version="") & Q(privacy_accepted_at__isnull=False)),
                name="case_privacy_version_with_time",
                violation_error_message=_(
                    "Record the version of the privacy statement with the time it was accepted."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{_('case')} {self.pk}"

    @property
    def is_open(self) -> bool:
        return pipeline.is_open(self.status)


class EventKind(models.TextChoices):
    STATUS_CHANGE = "status_change", _("status change")
    NOTE = "note", _("note")
    CALL = "call", _("phone call")
    EMAIL_SENT = "email_sent", _("e-mail sent")
    MESSAGE = "message", _("message")
    ASSIGNMENT = "assignment", _("coach assignment")
    VISIT = "visit", _("visit")
    TASK = "task", _("task")
    # One per measure the resident reports as taken at the follow-up (action
    # "measure_taken", the measure's name as text): what the dashboard counts.
    MEASURE_TAKEN = "measure_taken", _("measure taken")


class CaseEvent(models.Model):
    """One line of a case's timeline. Services only ever add these, never change them."""

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="events", verbose_name=_("case")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    from_status = models.CharField(
        _("from status"), max_length=20, choices=CaseStatus.choices, blank=True
    )
    to_status = models.CharField(
        _("to status"), max_length=20, choices=CaseStatus.choices, blank=True
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    # For assignments (the coach and the one they replace) and mails (the recipient).
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("coach"),
    )
    previous_coach = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("previous coach"),
    )
    # What was done, as a code: a pipeline action ("plan_visit") or "task_done".
    action = models.CharField(_("action"), max_length=30, blank=True)
    visit = models.ForeignKey(
        "crm.Visit",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("visit"),
    )
    task = models.ForeignKey(
        "crm.Task",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("task"),
    )
    text = models.TextField(_("text"), blank=True, max_length=4000)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _case_policy("case__")

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"

    @property
    def changed_status(self) -> bool:
        return bool(self.to_status) and self.from_status != self.to_status


postcode_areas_validator = RegexValidator(
    r"^([1-9][0-9]{3}(,[1-9][0-9]{3})*)?$",
    _("Enter postcode areas as four digits, separated by commas (e.g. 3731,3732)."),
)


class CoachProfile(models.Model):
    """Where a coach works and how much: what a coordinator weighs when assigning."""

    # One profile per person: their areas and their week are theirs, whichever
    # initiative asks. The organisation is the one whose coordinators keep it.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="coach_profile",
        verbose_name=_("coach"),
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="coach_profiles",
        verbose_name=_("initiative"),
        limit_choices_to={"kind": "initiative"},
    )
    # Postcode-4 areas as "3731,3732": a plain column that both databases can check.
    areas = models.CharField(
        _("postcode areas"), max_length=500, blank=True, validators=[postcode_areas_validator]
    )
    max_visits_per_week = models.PositiveSmallIntegerField(
        _("maximum visits per week"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("A paused coach gets no new cases.")
    )

    objects = AccessQuerySet.as_manager()
    # Coordinators keep the profiles; a coach reads their own.
    access_policy = Policy(
        organisation="organisation",
        roles={
            Action.VIEW: frozenset({Role.COORDINATOR}),
            Action.CHANGE: frozenset({Role.COORDINATOR}),
        },
        coach="user",
        coach_actions=frozenset({Action.VIEW}),
    )

    class Meta:
        verbose_name = _("coach profile")
        verbose_name_plural = _("coach profiles")
        constraints = [
            models.CheckConstraint(
                condition=Q(areas__regex=r"^([1-9][0-9]{3}(,[1-9][0-9]{3})*)?$"),
                name="coachprofile_areas_format",
            ),
            models.CheckConstraint(
                condition=Q(max_visits_per_week__gte=1), name="coachprofile_max_visits_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{_('coach profile')} {self.pk}"

    @property
    def area_list(self) -> list[str]:
        return [area for area in self.areas.split(",") if area]


class VisitStatus(models.TextChoices):
    PLANNED = "planned", _("planned")
    DONE = "done", _("done")
    CANCELLED = "cancelled", _("cancelled")


class Visit(models.Model):
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="visits", verbose_name=_("case")
    )
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="visits",
        verbose_name=_("coach"),
    )
    planned_start = models.DateTimeField(_("start"))
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration in minutes"),
        default=90,
        validators=[MinValueValidator(VISIT_MINUTES_MIN), MaxValueValidator(VISIT_MINUTES_MAX)],
    )
    status = models.CharField(
        _("status"), max_length=10, choices=VisitStatus.choices, default=VisitStatus.PLANNED
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _case_policy("case__")

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["planned_start"]
        constraints = [
            # The pipeline knows one planned visit at a time: cancel or finish it first.
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(status="planned"),
                name="visit_one_planned_per_case",
                violation_error_message=_("This case already has a planned visit."),
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=VISIT_MINUTES_MIN)
                & Q(duration_minutes__lte=VISIT_MINUTES_MAX),
                name="visit_duration_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{_('visit')} {self.pk}"

    @property
    def has_started(self) -> bool:
        """Only a visit that has begun can have taken place (crm.services.visit_done)."""
        return self.planned_start <= timezone.now()


class TaskKind(models.TextChoices):
    MANUAL = "manual", _("task")
    DOSSIER_REMINDER = "dossier_reminder", _("reminder to fill in the dossier")
    FOLLOW_UP = "follow_up", _("follow-up")


class Task(models.Model):
    """Something to do for a case, by someone, by a date."""

    # Every task is about a case (its access follows the case); a task without one
    # would need an organisation and a policy of its own.
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("case")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="crm_tasks",
        verbose_name=_("assigned to"),
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=TaskKind.choices, default=TaskKind.MANUAL
    )
    title = models.CharField(_("title"), max_length=200)
    due_date = models.DateField(_("due date"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    # An automatic task's identity ("dossier_reminder:<case id>"): a job that runs twice
    # finds the row of its first run instead of making (and sending) a second one.
    dedupe_key = models.CharField(
        _("deduplication key"), max_length=100, null=True, blank=True, unique=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _case_policy("case__")

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["due_date", "pk"]

    def __str__(self) -> str:
        return f"{_('task')} {self.pk}"


HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def embedding_origins(value: str) -> list[str]:
    """The origins (https://host[:port]) in a list of sites, one per line.

    Raises ValidationError for a line that is not an https address of a site: a path,
    a query or a wildcard would let more pages frame the form than the one meant.
    """
    origins: list[str] = []
    for line in value.split():
        try:
            parts = urlsplit(line)
            port = parts.port
        except ValueError:
            parts, port = None, None
        host = (parts.hostname or "") if parts else ""
        # A plain host name: anything else (";", quotes) would reach the CSP header.
        if not HOST_NAME.fullmatch(host):
            host = ""
        if (
            parts is None
            or parts.scheme != "https"
            or not host
            or "*" in line
            or parts.username
            or parts.password
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ValidationError(
                _("%(site)s is not the address of a website, such as https://www.example.nl."),
                code="invalid_site",
                params={"site": line[:80]},
            )
        origin = f"https://{host}" + (f":{port}" if port else "")
        if origin not in origins:
            origins.append(origin)
    return origins


def embedding_sites_validator(value: str) -> None:
    embedding_origins(value)


class SignupSettings(models.Model):
    """How an initiative's public sign-up form behaves; without a row: open, no extra question."""

    initiative = models.OneToOneField(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="signup_settings",
        verbose_name=_("initiative"),
    )
    is_open = models.BooleanField(_("open for sign-ups"), default=True)
    asks_membership = models.BooleanField(_("ask whether the resident is a member"), default=False)
    intro = models.TextField(_("introduction above the form"), blank=True, max_length=2000)
    # Only these sites may show the form in a frame (CSP frame-ancestors); none: no site.
    embedding_sites = models.TextField(
        _("websites that show this form"),
        blank=True,
        max_length=2000,
        validators=[embedding_sites_validator],
        help_text=_(
            "One address per line, for example https://www.energie-de-bilt.nl. Only these "
            "websites can show the sign-up form inside their own pages."
        ),
    )

    objects = AccessQuerySet.as_manager()
    access_policy = Policy(
        organisation="initiative",
        roles={
            Action.VIEW: frozenset({Role.COORDINATOR}),
            Action.CHANGE: frozenset({Role.COORDINATOR}),
        },
    )

    class Meta:
        verbose_name = _("sign-up settings")
        verbose_name_plural = _("sign-up settings")

    def __str__(self) -> str:
        return str(self.initiative)


class PrivacyStatement(models.Model):
    """One version of an initiative's privacy statement; a published text never changes.

    A sign-up records the version it accepted, so what a resident agreed to can always
    be shown word for word. A change is a new version.
    """

    initiative = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="privacy_statements",
        verbose_name=_("initiative"),
    )
    version = models.SlugField(_("version"), max_length=40)
    text = models.TextField(_("text"), max_length=20000)
    valid_from = models.DateTimeField(_("in force from"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = Policy(
        organisation="initiative",
        roles={
            Action.VIEW: frozenset({Role.COORDINATOR}),
            Action.CHANGE: frozenset({Role.COORDINATOR}),
        },
    )

    class Meta:
        verbose_name = _("privacy statement")
        verbose_name_plural = _("privacy statements")
        ordering = ["initiative", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["initiative", "version"], name="privacy_statement_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.initiative} {self.version}"


# Every change is in the audit log; what residents and staff wrote is masked there.
auditlog.register(Case, mask_fields=["wants_help_with", "contact_email", "contact_phone"])
auditlog.register(CaseEvent, mask_fields=["text"])
auditlog.register(CoachProfile)
auditlog.register(Visit)
auditlog.register(Task, mask_fields=["title"])
auditlog.register(SignupSettings)
auditlog.register(PrivacyStatement)
