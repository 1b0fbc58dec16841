"""The house dossier: characteristics as columns, components as rows, and their sources.

Every characteristic is a real column. A choice left empty ("") has not been answered;
"unknown" is an answer of its own ("I do not know"), never read as "no". A number left
empty (NULL) has not been given. Where a value came from lives in ValueRecord rows, one
per field and source, so the coach sees the resident's answer beside their own.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.access import AccessQuerySet, Action, Policy
from accounts.roles import Role
from dossier.models.address import DwellingType, EnergyLabelClass, Household

YEAR_VALIDATORS = [MinValueValidator(1000), MaxValueValidator(2100)]


def _household_policy(prefix: str) -> Policy:
    """The household's own policy, reached through `prefix` (e.g. "household")."""
    return Policy(
        organisation=f"{prefix}__initiative",
        roles={
            Action.VIEW: frozenset({Role.COORDINATOR}),
            Action.CHANGE: frozenset({Role.COORDINATOR}),
        },
        coach=f"{prefix}__assigned_coach",
        coach_actions=frozenset({Action.VIEW, Action.CHANGE}),
        resident=f"{prefix}__residents",
        resident_actions=frozenset({Action.VIEW, Action.CHANGE}),
    )


class YesNoUnknown(models.TextChoices):
    YES = "yes", _("yes")
    NO = "no", _("no")
    UNKNOWN = "unknown", _("I don't know")


class ApartmentType(models.TextChoices):
    GALLERY = "gallery", _("gallery flat")
    PORCH = "porch", _("porch flat")
    MAISONETTE = "maisonette", _("maisonette")
    GROUND_FLOOR = "ground_floor", _("ground-floor flat")
    MIDDLE_FLOOR = "middle_floor", _("middle-floor flat")
    TOP_FLOOR = "top_floor", _("top-floor flat")
    UNKNOWN = "unknown", _("I don't know")


class RoofType(models.TextChoices):
    PITCHED = "pitched", _("pitched roof")
    FLAT = "flat", _("flat roof")
    MIXED = "mixed", _("partly pitched, partly flat")
    NONE = "none", _("no roof of its own (apartment below others)")
    UNKNOWN = "unknown", _("I don't know")


class Orientation(models.TextChoices):
    NORTH = "n", _("north")
    NORTH_EAST = "ne", _("north-east")
    EAST = "e", _("east")
    SOUTH_EAST = "se", _("south-east")
    SOUTH = "s", _("south")
    SOUTH_WEST = "sw", _("south-west")
    WEST = "w", _("west")
    NORTH_WEST = "nw", _("north-west")
    UNKNOWN = "unknown", _("I don't know")


class Ownership(models.TextChoices):
    OWNER = "owner", _("owner-occupied")
    SOCIAL_RENT = "social_rent", _("rented from a housing association")
    PRIVATE_RENT = "private_rent", _("rented from a private landlord")
    UNKNOWN = "unknown", _("I don't know")


EnergyLabel = EnergyLabelClass


class LabelKind(models.TextChoices):
    REGISTERED = "registered", _("registered label")
    INDICATIVE = "indicative", _("indicative label (estimate)")
    NONE = "none", _("no label")
    UNKNOWN = "unknown", _("I don't know")


class HeatingSystem(models.TextChoices):
    HR_BOILER = "hr_boiler", _("high-efficiency gas boiler (HR)")
    VR_BOILER = "vr_boiler", _("improved-efficiency gas boiler (VR)")
    CONVENTIONAL_BOILER = "conventional_boiler", _("older gas boiler (conventional)")
    HYBRID_HEAT_PUMP = "hybrid_heat_pump", _("hybrid heat pump with gas boiler")
    AIR_HEAT_PUMP = "air_heat_pump", _("heat pump (air)")
    GROUND_HEAT_PUMP = "ground_heat_pump", _("heat pump (ground)")
    DISTRICT_HEAT = "district_heat", _("district heating")
    STOVE = "stove", _("gas or wood stove")
    OTHER = "other", _("other")
    UNKNOWN = "unknown", _("I don't know")


class HotWater(models.TextChoices):
    COMBI_BOILER = "combi_boiler", _("from the central heating boiler (combi)")
    BOILER_TANK = "boiler_tank", _("gas boiler with hot-water tank")
    ELECTRIC_TANK = "electric_tank", _("electric hot-water tank")
    HEAT_PUMP = "heat_pump", _("heat pump")
    SOLAR_BOILER = "solar_boiler", _("solar water heater")
    DISTRICT_HEAT = "district_heat", _("district heating")
    GEYSER = "geyser", _("gas water heater (geyser)")
    UNKNOWN = "unknown", _("I don't know")


class Cooking(models.TextChoices):
    GAS = "gas", _("gas")
    INDUCTION = "induction", _("induction")
    ELECTRIC = "electric", _("electric (ceramic or hotplate)")
    UNKNOWN = "unknown", _("I don't know")


class Ventilation(models.TextChoices):
    NATURAL = "natural", _("natural (windows and grilles)")
    EXHAUST = "exhaust", _("mechanical extraction")
    BALANCED = "balanced", _("balanced ventilation with heat recovery")
    DEMAND_CONTROLLED = "demand_controlled", _("demand-controlled ventilation")
    DECENTRAL = "decentral", _("decentral units per room")
    UNKNOWN = "unknown", _("I don't know")


class MovingPlans(models.TextChoices):
    NO = "no", _("no plans to move")
    WITHIN_2_YEARS = "within_2_years", _("within 2 years")
    WITHIN_5_YEARS = "within_5_years", _("within 5 years")
    UNKNOWN = "unknown", _("I don't know yet")


class Priority(models.TextChoices):
    LOWER_BILLS = "lower_bills", _("a lower energy bill")
    COMFORT = "comfort", _("more comfort")
    CLIMATE = "climate", _("less CO2 for the climate")
    OFF_GAS = "off_gas", _("getting off natural gas")
    HEALTH = "health", _("a healthier indoor climate")
    VALUE = "value", _("a higher value of the home")
    UNKNOWN = "unknown", _("I don't know yet")


class Source(models.TextChoices):
    OPEN_DATA = "open_data", _("open data")
    RESIDENT = "resident", _("resident")
    COACH = "coach", _("energy coach")
    # Carried over from the dossier of the household that lived here before.
    PREVIOUS_OCCUPANTS = "previous_occupants", _("previous occupants")


class Section(models.TextChoices):
    """The topics of the dossier: each is saved, versioned and checked off on its own."""

    HOUSE = "house", _("The home")
    ENERGY = "energy", _("Energy use")
    INSTALLATIONS = "installations", _("Heating and installations")
    INSULATION = "insulation", _("Insulation and glazing")
    COMFORT = "comfort", _("Comfort and wishes")
    MEASURES = "measures", _("Measures")


class Dossier(models.Model):
    """Everything known about one household's home, for one initiative."""

    household = models.OneToOneField(
        Household, on_delete=models.CASCADE, related_name="dossier", verbose_name=_("household")
    )

    # The home
    dwelling_type = models.CharField(
        _("dwelling type"), max_length=20, blank=True, choices=DwellingType.choices
    )
    apartment_type = models.CharField(
        _("type of apartment"), max_length=20, blank=True, choices=ApartmentType.choices
    )
    build_year = models.PositiveSmallIntegerField(
        _("build year"), null=True, blank=True, validators=YEAR_VALIDATORS
    )
    floor_area_m2 = models.PositiveIntegerField(
        _("living area (m²)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(10), MaxValueValidator(2000)],
    )
    storeys = models.PositiveSmallIntegerField(
        _("number of storeys"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
    )
    roof_type = models.CharField(_("roof"), max_length=20, blank=True, choices=RoofType.choices)
    orientation = models.CharField(
        _("direction the back of the house faces"),
        max_length=10,
        blank=True,
        choices=Orientation.choices,
    )
    is_monument = models.CharField(
        _("listed building (monument)"), max_length=10, blank=True, choices=YesNoUnknown.choices
    )
    ownership = models.CharField(
        _("owned or rented"), max_length=20, blank=True, choices=Ownership.choices
    )
    energy_label_kind = models.CharField(
        _("energy label"), max_length=20, blank=True, choices=LabelKind.choices
    )
    energy_label = models.CharField(
        _("energy label class"), max_length=5, blank=True, choices=EnergyLabel.choices
    )
    energy_label_date = models.DateField(_("date of the energy label"), null=True, blank=True)

    # Energy use
    occupants = models.PositiveSmallIntegerField(
        _("number of occupants"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
    )
    gas_m3_per_year = models.PositiveIntegerField(
        _("gas use per year (m³)"), null=True, blank=True, validators=[MaxValueValidator(20000)]
    )
    electricity_kwh_per_year = models.PositiveIntegerField(
        _("electricity use per year (kWh)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(50000)],
    )
    electricity_returned_kwh_per_year = models.PositiveIntegerField(
        _("electricity returned to the grid per year (kWh)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(50000)],
    )
    thermostat_c = models.DecimalField(
        _("usual thermostat setting (°C)"),
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(10), MaxValueValidator(30)],
    )

    # Heating and installations
    heating_system = models.CharField(
        _("heating"), max_length=30, blank=True, choices=HeatingSystem.choices
    )
    boiler_year = models.PositiveSmallIntegerField(
        _("year the boiler or heat pump was installed"),
        null=True,
        blank=True,
        validators=YEAR_VALIDATORS,
    )
    hot_water = models.CharField(
        _("hot water"), max_length=20, blank=True, choices=HotWater.choices
    )
    cooking = models.CharField(_("cooking"), max_length=20, blank=True, choices=Cooking.choices)
    ventilation = models.CharField(
        _("ventilation"), max_length=20, blank=True, choices=Ventilation.choices
    )
    has_solar_panels = models.CharField(
        _("solar panels"), max_length=10, blank=True, choices=YesNoUnknown.choices
    )
    solar_panel_count = models.PositiveSmallIntegerField(
        _("number of solar panels"), null=True, blank=True, validators=[MaxValueValidator(500)]
    )
    solar_panel_wp = models.PositiveIntegerField(
        _("total peak power (Wp)"), null=True, blank=True, validators=[MaxValueValidator(200000)]
    )
    solar_panel_year = models.PositiveSmallIntegerField(
        _("year the solar panels were installed"),
        null=True,
        blank=True,
        validators=YEAR_VALIDATORS,
    )

    # Comfort, plans and priorities
    complaint_draught = models.CharField(
        _("draught"), max_length=10, blank=True, choices=YesNoUnknown.choices
    )
    complaint_cold_floors = models.CharField(
        _("cold floors"), max_length=10, blank=True, choices=YesNoUnknown.choices
    )
    complaint_damp = models.CharField(
        _("damp or mould"), max_length=10, blank=True, choices=YesNoUnknown.choices
    )
    plans_renovation = models.CharField(
        _("renovation plans"), max_length=10, blank=True, choices=YesNoUnknown.choices
    )
    plans_moving = models.CharField(
        _("plans to move"), max_length=20, blank=True, choices=MovingPlans.choices
    )
    main_priority = models.CharField(
        _("what matters most"), max_length=20, blank=True, choices=Priority.choices
    )
    wishes = models.TextField(_("wishes and questions"), blank=True, max_length=4000)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    invited_at = models.DateTimeField(_("resident invited at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("resident finished at"), null=True, blank=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _household_policy("household")

    class Meta:
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")
        constraints = [
            # A label class belongs to a registered or indicative label only.
            models.CheckConstraint(
                condition=Q(energy_label="")
                | Q(energy_label_kind__in=["registered", "indicative"]),
                name="dossier_label_has_kind",
            ),
            models.CheckConstraint(
                condition=Q(apartment_type="") | Q(dwelling_type="apartment"),
                name="dossier_apartment_type_for_apartments",
            ),
        ]

    def __str__(self) -> str:
        return str(self.household)


class ComponentKind(models.TextChoices):
    ROOF = "roof", _("roof")
    FACADE = "facade", _("facade")
    CAVITY_WALL = "cavity_wall", _("cavity wall")
    FLOOR = "floor", _("floor")
    GLAZING_LIVING = "glazing_living", _("glazing of the living rooms")
    GLAZING_BEDROOMS = "glazing_bedrooms", _("glazing of the bedrooms")
    DOORS_PANELS = "doors_panels", _("doors and panels")


GLAZING_KINDS = frozenset({ComponentKind.GLAZING_LIVING, ComponentKind.GLAZING_BEDROOMS})


class Insulation(models.TextChoices):
    NONE = "none", _("not insulated")
    PARTIAL = "partial", _("partly insulated")
    GOOD = "good", _("well insulated")
    UNKNOWN = "unknown", _("I don't know")


class BuildingComponent(models.Model):
    """One part of the building shell of a dossier's home and how well it is insulated."""

    dossier = models.ForeignKey(
        Dossier, on_delete=models.CASCADE, related_name="components", verbose_name=_("dossier")
    )
    kind = models.CharField(_("part of the home"), max_length=20, choices=ComponentKind.choices)
    insulation = models.CharField(
        _("insulation"), max_length=10, blank=True, choices=Insulation.choices
    )
    rc_value = models.DecimalField(
        _("Rc value (m²K/W)"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(20)],
    )
    u_value = models.DecimalField(
        _("U value (W/m²K)"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(10)],
    )
    area_m2 = models.DecimalField(
        _("area (m²)"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(5000)],
    )
    year = models.PositiveSmallIntegerField(
        _("year insulated or replaced"), null=True, blank=True, validators=YEAR_VALIDATORS
    )

    objects = AccessQuerySet.as_manager()
    access_policy = _household_policy("dossier__household")

    class Meta:
        verbose_name = _("building component")
        verbose_name_plural = _("building components")
        ordering = ["dossier", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["dossier", "kind"], name="component_one_per_kind"),
            models.CheckConstraint(condition=Q(rc_value__gte=0), name="component_rc_positive"),
            models.CheckConstraint(condition=Q(u_value__gte=0), name="component_u_positive"),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class DossierSection(models.Model):
    """One topic of a dossier: its version (optimistic locking), the coach's notes, checks."""

    dossier = models.ForeignKey(
        Dossier, on_delete=models.CASCADE, related_name="sections", verbose_name=_("dossier")
    )
    section = models.CharField(_("topic"), max_length=20, choices=Section.choices)
    version = models.PositiveIntegerField(_("version"), default=0)
    notes = models.TextField(_("coach's notes"), blank=True, max_length=10000)
    checked_in_home = models.BooleanField(_("checked in the home"), default=False)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    objects = AccessQuerySet.as_manager()
    access_policy = _household_policy("dossier__household")

    class Meta:
        verbose_name = _("dossier topic")
        verbose_name_plural = _("dossier topics")
        constraints = [
            models.UniqueConstraint(fields=["dossier", "section"], name="section_one_per_topic"),
        ]

    def __str__(self) -> str:
        return self.get_section_display()


class ValueRecord(models.Model):
    """The latest answer one source gave for one field of a dossier, with who and when.

    `field` is a model field name ("gas_m3_per_year") or "<component>.<field>" for a
    building component ("roof.insulation"). `value` is the answer as it was stored,
    so the coach can compare the resident's answer with their own.
    """

    dossier = models.ForeignKey(
        Dossier, on_delete=models.CASCADE, related_name="value_records", verbose_name=_("dossier")
    )
    field = models.CharField(_("field"), max_length=60)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    value = models.CharField(_("value"), max_length=4000, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    source_detail = models.CharField(
        _("source detail"), max_length=200, blank=True, help_text=_("e.g. the open-data file")
    )
    checked_in_home = models.BooleanField(_("checked in the home"), default=False)

    objects = AccessQuerySet.as_manager()
    access_policy = _household_policy("dossier__household")

    class Meta:
        verbose_name = _("source of a value")
        verbose_name_plural = _("sources of values")
        constraints = [
            models.UniqueConstraint(
                fields=["dossier", "field", "source"], name="value_record_one_per_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.field} ({self.get_source_display()})"
