"""Advice reports: each one a numbered version per dossier, kept with the figures of its day.

A report is requested on the web, its figures are fixed in `figures` right then, and a
Celery task renders the PDF from those figures alone. Rendering again (a retry, a
redelivered task) therefore gives the same report, and a parameter change later never
alters a report that was already made.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.access import AccessQuerySet, Action, Policy
from accounts.roles import Role
from dossier.models.calculation import ParameterSet
from dossier.models.exchange import _private_path
from dossier.models.house import Dossier


def report_path(instance: AdviceReport, filename: str) -> str:
    return _private_path("reports", ".pdf")


class ReportStatus(models.TextChoices):
    QUEUED = "queued", _("waiting")
    RUNNING = "running", _("being made")
    DONE = "done", _("ready")
    FAILED = "failed", _("failed")


class Delivery(models.TextChoices):
    EMAIL = "email", _("by e-mail")
    PRINT = "print", _("on paper")


class AdviceReport(models.Model):
    dossier = models.ForeignKey(
        Dossier, on_delete=models.CASCADE, related_name="reports", verbose_name=_("dossier")
    )
    number = models.PositiveIntegerField(_("version"))
    parameter_set = models.ForeignKey(
        ParameterSet,
        on_delete=models.PROTECT,
        related_name="reports",
        verbose_name=_("calculation parameters"),
    )
    figures = models.JSONField(_("figures of the day"))
    summary = models.TextField(_("coach's explanation"), blank=True, max_length=4000)
    status = models.CharField(
        _("status"), max_length=10, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
    # A short code for what went wrong (never an exception text: it may quote the dossier).
    error = models.CharField(_("error"), max_length=60, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    pdf = models.FileField(_("PDF"), upload_to=report_path, max_length=200, blank=True)
    pages = models.PositiveSmallIntegerField(_("pages"), null=True, blank=True)
    delivery = models.CharField(_("delivery"), max_length=10, choices=Delivery.choices)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    printed_at = models.DateTimeField(_("printed at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("made by"),
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Until when a worker answers for the report (dossier.advice_reports): past it, the
    # report is stuck and the sweep has it made or mailed again.
    lease_until = models.DateTimeField(_("held by its worker until"), null=True, blank=True)

    objects = AccessQuerySet.as_manager()
    # The household's policy, except that residents read their reports and never make one.
    access_policy = Policy(
        organisation="dossier__household__initiative",
        roles={
            Action.VIEW: frozenset({Role.COORDINATOR}),
            Action.CHANGE: frozenset({Role.COORDINATOR}),
        },
        coach="dossier__household__assigned_coach",
        coach_actions=frozenset({Action.VIEW, Action.CHANGE}),
        resident="dossier__household__residents",
        resident_actions=frozenset({Action.VIEW}),
    )

    class Meta:
        verbose_name = _("advice report")
        verbose_name_plural = _("advice reports")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["dossier", "number"], name="report_number_per_dossier"),
            # One report at a time per dossier: a double click or a second tab asks for
            # the same report, not for two.
            models.UniqueConstraint(
                fields=["dossier"],
                condition=Q(status__in=["queued", "running"]),
                name="report_one_in_progress_per_dossier",
            ),
            models.CheckConstraint(
                condition=Q(status="done") | Q(sent_at__isnull=True),
                name="report_sent_only_when_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{_('advice report')} {self.number}"

    @property
    def in_progress(self) -> bool:
        return self.status in (ReportStatus.QUEUED, ReportStatus.RUNNING)
