"""The NIP: parameters per year, programmes and their budgets, applications, measures, exports.

A municipality runs one programme per tranche of the Nationaal Isolatieprogramma's local
approach (SPUK lokale aanpak isolatie). Every amount, limit and threshold the rules use
is data with its source (ParameterSet, ParameterValue), because the rules change every
year; each eligibility decision keeps the version it used. Money moves only through
nip.services, which lock the programme row, so committed money never exceeds a source's
budget or a home's maximum, also when two staff members approve at the same moment.

Personal data here: the address of an application (through its dwelling) and three
yes/no answers (WOZ under the limit, income under the threshold, debt relief). The WOZ
value and the income themselves are never stored.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from auditlog.registry import auditlog
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.access import AccessQuerySet, Action, Policy
from accounts.roles import Role
from dossier.models import YEAR_VALIDATORS, DoneBy, DwellingType, EnergyLabel

MONEY = {"max_digits": 12, "decimal_places": 2}
NOT_NEGATIVE = [MinValueValidator(Decimal("0"))]


def _municipality_policy(path: str) -> Policy:
    """Staff of the municipality that runs the programme; nobody else."""
    return Policy(
        organisation=path,
        roles={
            Action.VIEW: frozenset({Role.MUNICIPALITY_STAFF}),
            Action.CHANGE: frozenset({Role.MUNICIPALITY_STAFF}),
        },
    )


# ---------------------------------------------------------------------------------------
# Parameters per year (reference data the administrator keeps)


class ParameterSet(models.Model):
    """The NIP figures in force from `valid_from` until the next set's date.

    Once a decision used a set it is locked: a correction is a new version, so every
    decision can be traced to the exact figures that produced it.
    """

    version = models.SlugField(_("version"), max_length=40, unique=True)
    valid_from = models.DateField(_("valid from"), unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    locked = models.BooleanField(
        _("locked"),
        default=False,
        help_text=_(
            "Used for a decision: its values can no longer change. Copy it to a new version."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("NIP parameter set")
        verbose_name_plural = _("NIP parameter sets")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.version} ({self.valid_from:%d-%m-%Y})"


class ParameterValue(models.Model):
    """One figure of a set; an empty value is a figure nobody could find yet, shown as missing."""

    parameter_set = models.ForeignKey(
        ParameterSet, on_delete=models.CASCADE, related_name="values", verbose_name=_("set")
    )
    key = models.CharField(_("key"), max_length=80)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=4, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    source = models.CharField(_("source"), max_length=300, blank=True)
    verified = models.BooleanField(
        _("verified"),
        default=False,
        help_text=_("Checked against the original source. Unverified figures are marked."),
    )

    class Meta:
        verbose_name = _("NIP parameter")
        verbose_name_plural = _("NIP parameters")
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["parameter_set", "key"], name="nip_parameter_one_per_key"
            ),
        ]

    def __str__(self) -> str:
        return self.key


# ---------------------------------------------------------------------------------------
# Programmes, budgets and business cases


class WozLimit(models.TextChoices):
    NHG = "nhg", _("the NHG limit")
    MUNICIPAL_AVERAGE = "municipal_average", _("the municipality's average WOZ value")


class ReportingPeriod(models.TextChoices):
    HALF_YEAR = "half_year", _("every half-year")
    YEAR = "year", _("every year")


class FundingSource(models.TextChoices):
    NIP = "nip", _("NIP (SPUK)")
    ENERGY_POVERTY = "energy_poverty", _("energy poverty budget")
    MUNICIPAL_SUSTAINABILITY = "municipal_sustainability", _("municipal sustainability budget")
    TVW = "tvw", _("heat transition vision (TVW)")
    CDOKE = "cdoke", _("implementation money (CDOKE)")
    OTHER = "other", _("other")
    # Paid by the state to the resident: in a business case, never in the municipality's
    # budget or its totals.
    ISDE = "isde", _("ISDE subsidy (paid by the state to the resident)")


MUNICIPAL_SOURCES = [choice for choice in FundingSource.values if choice != FundingSource.ISDE]


class Programme(models.Model):
    """One municipality's local insulation approach for one tranche."""

    municipality = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="nip_programmes",
        verbose_name=_("municipality"),
        limit_choices_to={"kind": "municipality"},
    )
    name = models.CharField(_("name"), max_length=150)
    tranche = models.PositiveSmallIntegerField(
        _("tranche"), validators=[MinValueValidator(1), MaxValueValidator(9)]
    )
    period_start = models.DateField(_("start of the programme"))
    period_end = models.DateField(_("end of the programme"))
    measures_from = models.DateField(
        _("measures count when executed on or after"),
        help_text=_("The first tranche counts measures executed after 31 December 2022."),
    )
    spend_deadline = models.DateField(
        _("everything executed and spent by"),
        help_text=_("Per tranche and municipality; extensions move this date."),
    )
    target_homes = models.PositiveIntegerField(_("target number of homes"))
    woz_limit = models.CharField(
        _("WOZ limit used"), max_length=20, choices=WozLimit.choices, default=WozLimit.NHG
    )
    municipal_average_woz_eur = models.DecimalField(
        _("average WOZ value of owner-occupied homes (€)"),
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        **MONEY,
    )
    amount_per_home_eur = models.DecimalField(
        _("NIP amount per home (€)"),
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        help_text=_("Leave empty to use the amount of the NIP parameters for the date."),
        **MONEY,
    )
    reporting_period = models.CharField(
        _("monitoring for RVO"),
        max_length=10,
        choices=ReportingPeriod.choices,
        default=ReportingPeriod.YEAR,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _municipality_policy("municipality")

    class Meta:
        verbose_name = _("NIP programme")
        verbose_name_plural = _("NIP programmes")
        ordering = ["municipality__name", "tranche", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "tranche"],
                name="nip_programme_one_per_tranche",
                violation_error_message=_(
                    "This municipality already has a programme for this tranche."
                ),
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="nip_programme_period_order",
                violation_error_message=_("The programme cannot end before it starts."),
            ),
            models.CheckConstraint(
                condition=~Q(woz_limit="municipal_average")
                | Q(municipal_average_woz_eur__isnull=False),
                name="nip_programme_average_woz_given",
                violation_error_message=_(
                    "Enter the average WOZ value when the programme uses it."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BudgetLine(models.Model):
    """Money a programme may spend from one source, e.g. € 80,000 from energy poverty."""

    programme = models.ForeignKey(
        Programme,
        on_delete=models.CASCADE,
        related_name="budget_lines",
        verbose_name=_("programme"),
    )
    source = models.CharField(
        _("funding source"),
        max_length=30,
        choices=[(value, label) for value, label in FundingSource.choices if value != "isde"],
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    amount_eur = models.DecimalField(_("amount (€)"), validators=NOT_NEGATIVE, **MONEY)

    objects = AccessQuerySet.as_manager()
    access_policy = _municipality_policy("programme__municipality")

    class Meta:
        verbose_name = _("budget line")
        verbose_name_plural = _("budget lines")
        ordering = ["programme", "source", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_eur__gte=0), name="nip_budget_not_negative"),
            models.CheckConstraint(condition=~Q(source="isde"), name="nip_budget_not_isde"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.amount_eur}"


class BusinessCase(models.Model):
    """One table of the programme's plan: the cost of one target group's unburdening."""

    programme = models.ForeignKey(
        Programme,
        on_delete=models.CASCADE,
        related_name="business_cases",
        verbose_name=_("programme"),
    )
    title = models.CharField(_("title"), max_length=200)
    note = models.TextField(_("explanation"), blank=True, max_length=2000)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = AccessQuerySet.as_manager()
    access_policy = _municipality_policy("programme__municipality")

    class Meta:
        verbose_name = _("business case")
        verbose_name_plural = _("business cases")
        ordering = ["programme", "sort_order", "pk"]

    def __str__(self) -> str:
        return self.title


class BusinessCaseLine(models.Model):
    """Homes × amount per home from one source.

    Lines with the same `option_group` are alternatives (insulation or glass); the total
    counts the costliest, as the seed's plan does. ISDE lines are shown but never count
    in the municipality's total.
    """

    business_case = models.ForeignKey(
        BusinessCase,
        on_delete=models.CASCADE,
        related_name="lines",
        verbose_name=_("business case"),
    )
    label = models.CharField(_("cost item"), max_length=200)
    homes = models.PositiveIntegerField(_("number of homes"))
    amount_per_home_eur = models.DecimalField(
        _("amount per home (€)"), validators=NOT_NEGATIVE, **MONEY
    )
    source = models.CharField(_("funding source"), max_length=30, choices=FundingSource.choices)
    option_group = models.CharField(
        _("alternatives group"),
        max_length=40,
        blank=True,
        help_text=_("Lines with the same group are alternatives; the costliest one counts."),
    )
    option_label = models.CharField(_("alternative"), max_length=60, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = AccessQuerySet.as_manager()
    access_policy = _municipality_policy("business_case__programme__municipality")

    class Meta:
        verbose_name = _("business case line")
        verbose_name_plural = _("business case lines")
        ordering = ["business_case", "sort_order", "pk"]

    def __str__(self) -> str:
        return self.label

    @property
    def total_eur(self) -> Decimal:
        return self.homes * self.amount_per_home_eur


# ---------------------------------------------------------------------------------------
# Applications, the money committed to them, and the measures executed


class ApplicationStatus(models.TextChoices):
    INTAKE = "intake", _("intake")
    APPROVED = "approved", _("granted")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")
    COMPLETED = "completed", _("completed")


# Applications that hold (or may soon hold) money and a place in the programme.
OPEN_STATUSES = (ApplicationStatus.INTAKE, ApplicationStatus.APPROVED, ApplicationStatus.COMPLETED)
GRANTED_STATUSES = (ApplicationStatus.APPROVED, ApplicationStatus.COMPLETED)


class IntakeChannel(models.TextChoices):
    COACH = "coach", _("energy coach")
    UNBURDENING_PARTY = "unburdening_party", _("unburdening party")
    MUNICIPALITY = "municipality", _("municipality")


class Group(models.TextChoices):
    FOCUS = "focus", _("focus group: full unburdening")
    PARTIAL = "partial", _("target group: partial unburdening")
    OUT_OF_SCOPE = "out_of_scope", _("out of scope")


class ShellState(models.TextChoices):
    POOR = "poor", _("not or poorly insulated")
    INSULATED = "insulated", _("insulated")
    UNKNOWN = "unknown", _("unknown")


class SpeciesCheck(models.TextChoices):
    UNKNOWN = "unknown", _("not yet checked")
    NOT_NEEDED = "not_needed", _("not needed: no protected species")
    PLAN = "plan", _("covered by a species management plan (SMP)")
    EXEMPTION = "exemption", _("exemption granted")


def _application_file_path(instance: models.Model, filename: str) -> str:
    # Random names: an uploaded file's own name may hold a person's name or address.
    extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return f"nip/files/{uuid.uuid4().hex}{extension[:6]}"


class Application(models.Model):
    """One home's request for support from one programme, from intake to completion."""

    programme = models.ForeignKey(
        Programme,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("programme"),
    )
    dwelling = models.ForeignKey(
        "dossier.Dwelling",
        on_delete=models.PROTECT,
        related_name="nip_applications",
        verbose_name=_("home"),
    )
    # The house dossier the intake came from, when there is one.
    household = models.ForeignKey(
        "dossier.Household",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="nip_applications",
        verbose_name=_("household"),
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.INTAKE,
    )
    intake_channel = models.CharField(_("intake by"), max_length=20, choices=IntakeChannel.choices)
    intake_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("intake recorded by"),
    )
    intake_at = models.DateTimeField(_("intake recorded at"), auto_now_add=True)

    # The intake's answers. None is "not known yet"; the rules say what is missing.
    owner_occupied = models.BooleanField(_("owner-occupied"), null=True, blank=True)
    energy_label = models.CharField(
        _("registered energy label"), max_length=5, blank=True, choices=EnergyLabel.choices
    )
    build_year = models.PositiveSmallIntegerField(
        _("build year"), null=True, blank=True, validators=YEAR_VALIDATORS
    )
    dwelling_type = models.CharField(
        _("dwelling type"), max_length=20, blank=True, choices=DwellingType.choices
    )
    shell_floor = models.CharField(
        _("floor and soil"), max_length=10, choices=ShellState.choices, default=ShellState.UNKNOWN
    )
    shell_facade = models.CharField(
        _("facade and cavity wall"),
        max_length=10,
        choices=ShellState.choices,
        default=ShellState.UNKNOWN,
    )
    shell_roof = models.CharField(
        _("roof, attic and loft floor"),
        max_length=10,
        choices=ShellState.choices,
        default=ShellState.UNKNOWN,
    )
    shell_windows = models.CharField(
        _("windows"), max_length=10, choices=ShellState.choices, default=ShellState.UNKNOWN
    )
    # Yes/no only: the WOZ value and the income are never stored.
    woz_below_limit = models.BooleanField(
        _("WOZ value at or under the limit"), null=True, blank=True
    )
    income_below_threshold = models.BooleanField(
        _("income at or under the threshold"), null=True, blank=True
    )
    debt_relief = models.BooleanField(
        _("debt counselling, debt restructuring or special assistance"), default=False
    )

    # The last eligibility check: its outcome, reasons and the parameters it used.
    group = models.CharField(_("group"), max_length=20, choices=Group.choices, blank=True)
    eligibility = models.JSONField(_("eligibility check"), default=dict, blank=True)
    parameter_set = models.ForeignKey(
        ParameterSet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("NIP parameters used"),
    )

    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decision_note = models.TextField(_("reason for the decision"), blank=True, max_length=2000)
    amount_granted_eur = models.DecimalField(
        _("amount granted (€)"), default=Decimal("0"), validators=NOT_NEGATIVE, **MONEY
    )

    species_check = models.CharField(
        _("nature-inclusive check"),
        max_length=20,
        choices=SpeciesCheck.choices,
        default=SpeciesCheck.UNKNOWN,
    )
    species_document = models.FileField(
        _("species management plan or exemption"),
        upload_to=_application_file_path,
        max_length=200,
        blank=True,
    )
    # Raised by every write through the services; a form posted against an older version
    # is refused instead of overwriting what someone else saved in between.
    version = models.PositiveIntegerField(_("version"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _municipality_policy("programme__municipality")

    class Meta:
        verbose_name = _("NIP application")
        verbose_name_plural = _("NIP applications")
        ordering = ["-intake_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "dwelling"],
                condition=Q(status__in=["intake", "approved", "completed"]),
                name="nip_application_one_open_per_home",
                violation_error_message=_(
                    "This home already has an application in this programme."
                ),
            ),
            models.CheckConstraint(
                condition=Q(amount_granted_eur__gte=0), name="nip_application_amount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme} #{self.pk}"

    @property
    def shell(self) -> dict[str, str]:
        return {
            "floor": self.shell_floor,
            "facade": self.shell_facade,
            "roof": self.shell_roof,
            "windows": self.shell_windows,
        }


class Commitment(models.Model):
    """Money of one source committed to one application, and how much of it is paid out."""

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="commitments",
        verbose_name=_("application"),
    )
    source = models.CharField(
        _("funding source"),
        max_length=30,
        choices=[(value, label) for value, label in FundingSource.choices if value != "isde"],
    )
    amount_eur = models.DecimalField(_("committed (€)"), validators=NOT_NEGATIVE, **MONEY)
    spent_eur = models.DecimalField(
        _("paid out (€)"), default=Decimal("0"), validators=NOT_NEGATIVE, **MONEY
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _municipality_policy("application__programme__municipality")

    class Meta:
        verbose_name = _("commitment")
        verbose_name_plural = _("commitments")
        ordering = ["application", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "source"], name="nip_commitment_one_per_source"
            ),
            models.CheckConstraint(condition=Q(amount_eur__gt=0), name="nip_commitment_positive"),
            models.CheckConstraint(
                condition=Q(spent_eur__gte=0) & Q(spent_eur__lte=models.F("amount_eur")),
                name="nip_commitment_spent_within_amount",
            ),
            models.CheckConstraint(condition=~Q(source="isde"), name="nip_commitment_not_isde"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.amount_eur}"


class ExecutedMeasure(models.Model):
    """One measure carried out at an application's home, as it goes into the RVO monitoring."""

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="measures",
        verbose_name=_("application"),
    )
    measure_type = models.ForeignKey(
        "dossier.MeasureType",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("measure"),
        limit_choices_to={"nip_eligible": True},
    )
    area_m2 = models.DecimalField(
        _("area (m²)"),
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("10000"))],
    )
    rd_value = models.DecimalField(
        _("Rd value added (m²K/W)"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("20"))],
    )
    u_value = models.DecimalField(
        _("U value (W/m²K)"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10"))],
    )
    frame_u_value = models.DecimalField(
        _("U value of the new frame (W/m²K)"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10"))],
    )
    executed_on = models.DateField(_("executed on"))
    done_by = models.CharField(_("done by"), max_length=20, choices=DoneBy.choices)
    cost_eur = models.DecimalField(_("cost (€)"), validators=NOT_NEGATIVE, **MONEY)
    invoice = models.FileField(
        _("invoice"), upload_to=_application_file_path, max_length=200, blank=True
    )
    small_home_exception = models.BooleanField(
        _("home too small for the minimum area"),
        default=False,
        help_text=_(
            "Since the second tranche the NIP may pay for homes that cannot meet the minimum area."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    objects = AccessQuerySet.as_manager()
    access_policy = _municipality_policy("application__programme__municipality")

    class Meta:
        verbose_name = _("executed measure")
        verbose_name_plural = _("executed measures")
        ordering = ["application", "executed_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cost_eur__gte=0), name="nip_measure_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return str(self.measure_type)


# ---------------------------------------------------------------------------------------
# RVO monitoring exports made in the background


class ExportFormat(models.TextChoices):
    XLSX = "xlsx", _("Excel (XLSX)")
    CSV = "csv", _("CSV")


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("waiting")
    RUNNING = "running", _("being made")
    DONE = "done", _("ready")
    FAILED = "failed", _("failed")


class MonitoringExport(models.Model):
    """An RVO monitoring file made by a Celery task, downloadable until it expires."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    programme = models.ForeignKey(
        Programme, on_delete=models.CASCADE, related_name="exports", verbose_name=_("programme")
    )
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    format = models.CharField(_("format"), max_length=5, choices=ExportFormat.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    rows_total = models.PositiveIntegerField(_("homes"), default=0)
    rows_done = models.PositiveIntegerField(_("homes written"), default=0)
    # Each run of the task claims the export by raising this; only the latest run's
    # progress and file count (nip.monitoring.monitoring_export_make).
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    file = models.FileField(_("file"), upload_to="nip/exports/", max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("download possible until"), null=True, blank=True)
    # Until when a worker answers for the export (nip.monitoring): past it, the sweep has
    # the export made again.
    lease_until = models.DateTimeField(_("held by its worker until"), null=True, blank=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _municipality_policy("programme__municipality")

    class Meta:
        verbose_name = _("monitoring export")
        verbose_name_plural = _("monitoring exports")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="nip_export_period_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme} {self.period_start:%Y-%m-%d}–{self.period_end:%Y-%m-%d}"


auditlog.register(Programme)
auditlog.register(BudgetLine)
auditlog.register(
    Application,
    # The three yes/no answers about money are personal data that a masked log would
    # still give away (half of "True"); the log records the decision and the amount. The
    # group repeats the income answer: that it changed would give the answer away too.
    exclude_fields=[
        "eligibility",
        "group",
        "version",
        "updated_at",
        "income_below_threshold",
        "debt_relief",
        "woz_below_limit",
    ],
)
auditlog.register(Commitment)
auditlog.register(ExecutedMeasure)
