"""What privacy keeps of its own: each initiative's retention periods and the proof of
every removal.

A `Removal` row is written by the retention job (privacy/retention.py) and by an erasure
on request (privacy/erasure.py). It records what was removed, when, by which rule and by
whom, with counts and ids only: never the removed values themselves.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.register import Retention

# The categories an initiative sets itself (the others are fixed, see register.py).
SETTABLE = (
    Retention.INACTIVE_DOSSIERS,
    Retention.PHOTOS,
    Retention.EXPORTS,
    Retention.AUDIT,
)


class RetentionSetting(models.Model):
    """How many days an initiative keeps one category after it stops being used."""

    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="retention_settings",
        verbose_name=_("organisation"),
    )
    category = models.CharField(
        _("category"), max_length=30, choices=[(c.value, c.label) for c in SETTABLE]
    )
    days = models.PositiveIntegerField(_("days"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("retention setting")
        verbose_name_plural = _("retention settings")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "category"], name="retention_setting_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id} {self.category} {self.days}"


class Removal(models.Model):
    """Proof of one removal: which rule removed how many of what, and when."""

    class Reason(models.TextChoices):
        RETENTION = "retention", _("retention period expired")
        ERASURE = "erasure", _("erasure on request")

    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    # The retention category for RETENTION; "erasure" for an erasure.
    rule = models.CharField(_("rule"), max_length=60)
    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organisation"),
    )
    # The household an erasure was for (its id only; the row itself may be gone).
    household_id = models.PositiveBigIntegerField(_("household id"), null=True, blank=True)
    performed_at = models.DateTimeField(_("performed at"), auto_now_add=True)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("performed by"),
    )
    # {"dossier.Photo": {"deleted": 3}, "crm.Case": {"anonymised": 1}, ...}: counts per
    # model and action, plus ids where useful. Never a removed value.
    details = models.JSONField(_("details"), default=dict)

    class Meta:
        verbose_name = _("removal")
        verbose_name_plural = _("removals")
        ordering = ["-performed_at", "-id"]
        indexes = [models.Index(fields=["organisation", "-performed_at"])]

    def __str__(self) -> str:
        return f"{self.reason} {self.rule} {timezone.localtime(self.performed_at):%Y-%m-%d}"
