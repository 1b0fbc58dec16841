"""The calculation core's parameters: versioned sets of figures, each with its source.

A set is in force from its `valid_from` date until the next set's. Once a set has been
used for a figure someone keeps (a report), it is locked: a change is a new version,
so every kept figure can be traced to the exact parameters that made it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class ParameterSet(models.Model):
    version = models.SlugField(_("version"), max_length=40, unique=True)
    valid_from = models.DateField(_("valid from"), unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    locked = models.BooleanField(
        _("locked"),
        default=False,
        help_text=_(
            "Used for a report: its values can no longer change. Copy it to a new version."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("calculation parameter set")
        verbose_name_plural = _("calculation parameter sets")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.version} ({self.valid_from:%d-%m-%Y})"


class ParameterValue(models.Model):
    parameter_set = models.ForeignKey(
        ParameterSet, on_delete=models.CASCADE, related_name="values", verbose_name=_("set")
    )
    key = models.CharField(_("key"), max_length=80)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    source = models.CharField(_("source"), max_length=300)
    verified = models.BooleanField(
        _("verified"),
        default=False,
        help_text=_(
            "Checked against the original source (e.g. rvo.nl). Unverified figures are marked."
        ),
    )

    class Meta:
        verbose_name = _("calculation parameter")
        verbose_name_plural = _("calculation parameters")
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["parameter_set", "key"], name="parameter_one_per_key"),
        ]

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        if self.parameter_set_id and self.parameter_set.locked:
            raise ValidationError(_("This parameter set is locked; copy it to a new version."))
