"""The measure catalogue and each dossier's measures: status, advice and own quote."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.access import AccessQuerySet
from dossier.models.house import YEAR_VALIDATORS, ComponentKind, Dossier, _household_policy


class MeasureCategory(models.TextChoices):
    INSULATION = "insulation", _("insulation")
    GLAZING = "glazing", _("glazing, panels and doors")
    VENTILATION = "ventilation", _("ventilation")
    HEATING = "heating", _("heating")
    GENERATION = "generation", _("generating energy")
    SMALL = "small", _("small measures")


class MeasureType(models.Model):
    """One kind of measure in the catalogue the administrator keeps (reference data)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("plain-language description"), max_length=300, blank=True)
    category = models.CharField(_("category"), max_length=20, choices=MeasureCategory.choices)
    component = models.CharField(
        _("part of the home"), max_length=20, blank=True, choices=ComponentKind.choices
    )
    isde_eligible = models.BooleanField(_("ISDE subsidy possible"), default=False)
    nip_eligible = models.BooleanField(_("NIP measure"), default=False)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("measure type")
        verbose_name_plural = _("measure catalogue")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class MeasureStatus(models.TextChoices):
    DONE = "done", _("already done")
    WANTED_NOW = "wanted_now", _("want to do it now")
    LATER = "later", _("maybe later")
    NOT_INTERESTED = "not_interested", _("not interested")
    NOT_APPLICABLE = "not_applicable", _("does not apply to this home")


class DoneBy(models.TextChoices):
    DIY = "diy", _("did it myself")
    THIRD_PARTY = "third_party", _("by a company")


class AdvicePriority(models.TextChoices):
    HIGH = "high", _("do this first")
    MEDIUM = "medium", _("worth doing")
    LOW = "low", _("later or optional")


class DossierMeasure(models.Model):
    dossier = models.ForeignKey(
        Dossier, on_delete=models.CASCADE, related_name="measures", verbose_name=_("dossier")
    )
    measure_type = models.ForeignKey(
        MeasureType, on_delete=models.PROTECT, related_name="+", verbose_name=_("measure")
    )
    status = models.CharField(_("status"), max_length=20, blank=True, choices=MeasureStatus.choices)
    done_year = models.PositiveSmallIntegerField(
        _("year done"), null=True, blank=True, validators=YEAR_VALIDATORS
    )
    done_by = models.CharField(_("done by"), max_length=20, blank=True, choices=DoneBy.choices)
    advice_priority = models.CharField(
        _("coach's advice"), max_length=10, blank=True, choices=AdvicePriority.choices
    )
    advice_note = models.TextField(_("coach's note"), blank=True, max_length=4000)
    quote_amount_eur = models.DecimalField(
        _("amount of your own quote (€)"),
        max_digits=9,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1_000_000)],
    )
    quote_company = models.CharField(_("company of the quote"), max_length=120, blank=True)
    quote_date = models.DateField(_("date of the quote"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _household_policy("dossier__household")

    class Meta:
        verbose_name = _("measure of a dossier")
        verbose_name_plural = _("measures of a dossier")
        ordering = ["measure_type__sort_order", "measure_type__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["dossier", "measure_type"], name="dossier_measure_one_per_type"
            ),
            # The year and who did it only make sense for a measure that is done.
            models.CheckConstraint(
                condition=Q(status="done") | (Q(done_year__isnull=True) & Q(done_by="")),
                name="dossier_measure_done_fields_only_when_done",
            ),
        ]
        indexes = [
            # Most of a dossier's measures have no status: the postcode-6 figures
            # (dataplatform.aggregation) read only those done or wanted now.
            models.Index(
                fields=["dossier"],
                condition=Q(status__in=["done", "wanted_now"]),
                name="dossier_measure_chosen_idx",
            ),
        ]

    def __str__(self) -> str:
        return str(self.measure_type)
