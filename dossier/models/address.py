from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.access import AccessQuerySet, Action, Policy
from accounts.models import cbs_municipality_code_validator
from accounts.roles import Role
from dossier import addresses


class DwellingType(models.TextChoices):
    DETACHED = "detached", _("detached house")
    SEMI_DETACHED = "semi_detached", _("semi-detached house")
    CORNER = "corner", _("corner house")
    TERRACED = "terraced", _("terraced house")
    APARTMENT = "apartment", _("apartment")


class EnergyLabelClass(models.TextChoices):
    A4 = "A++++", "A++++"
    A3 = "A+++", "A+++"
    A2 = "A++", "A++"
    A1 = "A+", "A+"
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"
    E = "E", "E"
    F = "F", "F"
    G = "G", "G"


class Dwelling(models.Model):
    """One address in the Netherlands; shared by every initiative that has a household there."""

    postcode = addresses.PostcodeField(
        _("postcode"), max_length=6, validators=[addresses.validate_postcode]
    )
    house_number = models.PositiveIntegerField(
        _("house number"),
        validators=[MinValueValidator(1), MaxValueValidator(addresses.HOUSE_NUMBER_MAX)],
    )
    house_letter = addresses.HouseLetterField(
        _("house letter"), max_length=1, blank=True, validators=[addresses.validate_house_letter]
    )
    house_number_addition = addresses.AdditionField(
        _("addition"), max_length=4, blank=True, validators=[addresses.validate_addition]
    )
    street = models.CharField(_("street"), max_length=120, blank=True)
    city = models.CharField(_("city"), max_length=80, blank=True)
    municipality_code = models.CharField(
        _("CBS municipality code"),
        max_length=6,
        blank=True,
        validators=[cbs_municipality_code_validator],
    )
    dwelling_type = models.CharField(
        _("dwelling type"), max_length=20, choices=DwellingType.choices, blank=True
    )
    build_year = models.PositiveSmallIntegerField(
        _("build year"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1000), MaxValueValidator(2100)],
    )
    # Filled from the open-data tables (dataplatform) when the dwelling is first looked up;
    # `open_data` says per field which file it came from: {"build_year": "BAG 08-11-2026"}.
    floor_area_m2 = models.PositiveIntegerField(_("usable area (m²)"), null=True, blank=True)
    registered_label = models.CharField(
        _("registered energy label"), max_length=5, blank=True, choices=EnergyLabelClass.choices
    )
    registered_label_on = models.DateField(_("label recorded on"), null=True, blank=True)
    bag_id = models.CharField(_("BAG object id"), max_length=16, blank=True)
    neighbourhood_code = models.CharField(_("neighbourhood (CBS)"), max_length=10, blank=True)
    district_code = models.CharField(_("district (CBS)"), max_length=8, blank=True)
    open_data = models.JSONField(_("from open data"), default=dict, blank=True)
    open_data_checked_at = models.DateTimeField(
        _("looked up in open data at"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    # A dwelling is visible to whoever may see a household that lives in it.
    access_policy = Policy(organisation=None, via=("dwelling", "dossier.Household"))

    class Meta:
        verbose_name = _("dwelling")
        verbose_name_plural = _("dwellings")
        ordering = ["postcode", "house_number", "house_letter", "house_number_addition"]
        constraints = [
            models.UniqueConstraint(
                fields=["postcode", "house_number", "house_letter", "house_number_addition"],
                name="dwelling_address_unique",
                violation_error_message=_("A dwelling with this address already exists."),
            ),
            models.CheckConstraint(
                condition=Q(postcode__regex=r"^[1-9][0-9]{3}[A-Z]{2}$")
                & ~Q(postcode__regex=r"S[ADS]$"),
                name="dwelling_postcode_format",
            ),
            models.CheckConstraint(
                condition=Q(house_number__gte=1) & Q(house_number__lte=addresses.HOUSE_NUMBER_MAX),
                name="dwelling_house_number_range",
            ),
            models.CheckConstraint(
                condition=Q(house_letter__regex=r"^[A-Z]?$"), name="dwelling_house_letter_format"
            ),
            models.CheckConstraint(
                condition=Q(house_number_addition__regex=r"^[A-Z0-9]{0,4}$"),
                name="dwelling_addition_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.street_line}, {self.postcode_display} {self.city}".strip(", ")

    @property
    def house_number_display(self) -> str:
        suffix = f"-{self.house_number_addition}" if self.house_number_addition else ""
        return f"{self.house_number}{self.house_letter}{suffix}"

    @property
    def street_line(self) -> str:
        return f"{self.street} {self.house_number_display}".strip()

    @property
    def postcode_display(self) -> str:
        return f"{self.postcode[:4]} {self.postcode[4:]}" if len(self.postcode) == 6 else ""


class Occupancy(models.TextChoices):
    """How a household lives at its dwelling, as far as its initiative knows."""

    # The household of the initiative at this address: at most one that has not ended.
    MAIN = "main", _("lives here")
    # Signed up where the initiative already helps a household: a partner, new
    # occupants or a second household? Until the coordinator says, it is its own case
    # and neither household sees the other.
    KNOWN_ADDRESS = "known_address", _("signed up at a known address")
    # A second household at the same address (a room, a granny flat).
    SECOND = "second", _("a second household at this address")
    # Signed up at a known address and turned out to belong to the household there: its
    # case went to that household; this one is kept, ended, until retention removes it.
    MERGED = "merged", _("joined the household living here")


class Household(models.Model):
    """The people living in a dwelling who are helped by one initiative."""

    initiative = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name=_("initiative"),
        limit_choices_to={"kind": "initiative"},
    )
    dwelling = models.ForeignKey(
        Dwelling, on_delete=models.PROTECT, related_name="households", verbose_name=_("dwelling")
    )
    name = models.CharField(_("name"), max_length=150)
    residents = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="households",
        blank=True,
        verbose_name=_("residents with a login"),
    )
    assigned_coach = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coached_households",
        verbose_name=_("assigned coach"),
    )
    occupancy = models.CharField(
        _("occupancy"), max_length=20, choices=Occupancy.choices, default=Occupancy.MAIN
    )
    # Set when the household moved out (new occupants came): it is helped no more, and
    # retention removes it once the initiative's period for inactive dossiers has passed.
    ended_at = models.DateTimeField(_("moved out at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = Policy(
        organisation="initiative",
        roles={
            Action.VIEW: frozenset({Role.COORDINATOR}),
            Action.CHANGE: frozenset({Role.COORDINATOR}),
        },
        coach="assigned_coach",
        coach_actions=frozenset({Action.VIEW, Action.CHANGE}),
        resident="residents",
        resident_actions=frozenset({Action.VIEW, Action.CHANGE}),
    )

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["-created_at"]
        constraints = [
            # One household lives at an address per initiative; a sign-up at a known
            # address and a second household there are the exceptions, on purpose.
            models.UniqueConstraint(
                fields=["initiative", "dwelling"],
                condition=Q(occupancy="main", ended_at__isnull=True),
                name="household_one_per_dwelling_per_initiative",
                violation_error_message=_("This initiative already helps a household here."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def at_known_address(self) -> bool:
        """Signed up where a household of the initiative already lives; not resolved yet."""
        return self.occupancy == Occupancy.KNOWN_ADDRESS
