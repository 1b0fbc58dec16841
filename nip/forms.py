"""Forms of the NIP application pages. They check shape only; nip.services decides.

Every form that changes an application carries the `version` the page was opened
with, so a save over someone else's change is refused instead of overwriting it.
Uploaded files are checked by their content (dossier.uploads) before a service sees them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import formats
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from dossier import addresses, uploads
from dossier.models import DwellingType, EnergyLabel, MeasureType
from nip.models import (
    Application,
    ApplicationStatus,
    FundingSource,
    Group,
    IntakeChannel,
    ShellState,
    SpeciesCheck,
)
from nip.parameters import NIP_MEASURES
from nip.services import ANSWER_FIELDS

if TYPE_CHECKING:
    from nip.models import Commitment, Programme

YES, NO, UNKNOWN = "yes", "no", "unknown"
YES_NO_UNKNOWN = [(YES, _("Yes")), (NO, _("No")), (UNKNOWN, _("Unknown"))]
# A postcode or its first part, as typed into the list's search: "3731", "3731 a", "3731AB".
POSTCODE_PREFIX_RE = re.compile(r"^[1-9][0-9]{3}[A-Z]{0,2}$")
MONEY = {"max_digits": 12, "decimal_places": 2}
# 1.460 or 12.345.678,90: dots that group thousands, not a decimal point.
GROUPED_RE = re.compile(r"^-?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]*)?$")


def _as_choice(value: bool | None) -> str:
    return UNKNOWN if value is None else YES if value else NO


def _as_bool(value: str) -> bool | None:
    return {YES: True, NO: False}.get(value)


def _euro(value: Decimal | None) -> str:
    return "?" if value is None else formats.number_format(value, 0, force_grouping=True)


def _capitalised(choices: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(value, capfirst(label)) for value, label in choices]


class _OwnIds(forms.Form):
    """A form whose field ids carry its own prefix: the application page holds several
    forms with a "version" or "amount" field, and ids must be unique on a page."""

    id_prefix = "id"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class VersionedForm(_OwnIds):
    version = forms.IntegerField(
        min_value=0,
        widget=forms.HiddenInput,
        error_messages={
            "required": _("The form is incomplete. Reload the page and try again."),
            "invalid": _("The form is incomplete. Reload the page and try again."),
        },
    )


class DutchDecimalField(forms.DecimalField):
    """A decimal typed the Dutch way: 1460,50, also 1.460,50 or € 1.460 as the page shows it."""

    def to_python(self, value: Any) -> Decimal | None:
        if isinstance(value, str):
            value = value.replace("€", "").replace(" ", "").replace("\u00a0", "").strip()
            # Django drops thousands separators only when the site itself shows them.
            if GROUPED_RE.match(value):
                value = value.replace(".", "")
        return super().to_python(value)


def _decimal(**kwargs: Any) -> forms.DecimalField:
    """A decimal field on a keyboard that offers a comma."""
    field = DutchDecimalField(localize=True, **kwargs)
    field.widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    field.widget.is_localized = True
    return field


def _document(upload: Any, name: str) -> ContentFile | None:
    """A PDF or scan checked by its content, ready for a FileField (random name on save)."""
    if not upload:
        return None
    clean = uploads.clean_document(upload)
    return ContentFile(clean.content, name=f"{name}{clean.extension}")


# ---------------------------------------------------------------------------------------
# The list's filters


class ApplicationFilterForm(forms.Form):
    """The list's filters, read from the query string; an invalid value narrows nothing."""

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses")), *_capitalised(ApplicationStatus.choices)],
    )
    group = forms.ChoiceField(
        label=_("Group"),
        required=False,
        choices=[("", _("All groups")), *_capitalised(Group.choices)],
    )
    postcode = forms.CharField(
        label=_("Postcode"),
        required=False,
        max_length=8,
        help_text=_("The whole postcode or its four digits, for example 3731 AB or 3731."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["postcode"].widget.input_type = "search"
        self.fields["postcode"].widget.attrs.update({"autocomplete": "off"})

    def clean_postcode(self) -> str:
        value = addresses.normalise_postcode(self.cleaned_data["postcode"])
        if value and not POSTCODE_PREFIX_RE.match(value):
            raise ValidationError(
                _("Enter a postcode or its four digits, for example 3731 AB or 3731.")
            )
        return value

    def filters(self) -> dict[str, str]:
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}


# ---------------------------------------------------------------------------------------
# Intake


@dataclass(frozen=True)
class IntakeFigures:
    """The figures the intake's explanations quote; None where the parameters lack one."""

    woz_limit: str  # a WozLimit value
    woz_limit_eur: Decimal | None
    income_pct: Decimal | None
    norm_single_eur: Decimal | None
    norm_couple_eur: Decimal | None
    poor_before_year: int | None
    insulated_from_year: int | None
    parameter_version: str


def _yes_no_unknown(label: Any) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=YES_NO_UNKNOWN,
        coerce=_as_bool,
        empty_value=None,
        initial=UNKNOWN,
        widget=forms.RadioSelect,
    )


def _shell(label: Any) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=_capitalised(ShellState.choices),
        initial=ShellState.UNKNOWN,
        widget=forms.RadioSelect,
    )


class IntakeAnswersForm(_OwnIds):
    """The intake's questions, each with what it means; money is asked as yes or no only."""

    id_prefix = "intake"

    owner_occupied = _yes_no_unknown(_("Does the owner live in the home?"))
    energy_label = forms.ChoiceField(
        label=_("Registered energy label"),
        required=False,
        choices=[("", _("No registered label, or not known")), *EnergyLabel.choices],
        help_text=_(
            "Only a label registered at ep-online.nl counts. Without one, the state of floor, "
            "facade, roof and windows below decides."
        ),
    )
    build_year = forms.IntegerField(
        label=_("Build year"), required=False, min_value=1000, max_value=2100
    )
    dwelling_type = forms.ChoiceField(
        label=_("Dwelling type"),
        required=False,
        choices=[("", _("Not known")), *_capitalised(DwellingType.choices)],
        help_text=_(
            "The floor and roof of an apartment usually belong to the neighbours: they only "
            "count when they are known to be poorly insulated."
        ),
    )
    shell_floor = _shell(_("Floor and soil"))
    shell_facade = _shell(_("Facade, including the cavity wall"))
    shell_roof = _shell(_("Roof, attic floor and loft floor"))
    shell_windows = _shell(_("Windows"))
    woz_below_limit = _yes_no_unknown(_("Is the WOZ value at or under the limit?"))
    income_below_threshold = _yes_no_unknown(_("Is the income at or under the threshold?"))
    debt_relief = forms.BooleanField(
        label=_(
            "The owner is in debt counselling or debt restructuring, or receives special "
            "assistance (bijzondere bijstand)"
        ),
        required=False,
        help_text=_(
            "Then no maximum per home applies. Only this yes or no is recorded, not the reason."
        ),
    )

    SHELL_FIELDS = ("shell_floor", "shell_facade", "shell_roof", "shell_windows")

    def __init__(
        self,
        *args: Any,
        figures: IntakeFigures,
        application: Application | None = None,
        **kwargs: Any,
    ) -> None:
        if application is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(application)
        super().__init__(*args, **kwargs)
        self.fields["build_year"].widget.attrs["inputmode"] = "numeric"
        self._explain(figures)

    @staticmethod
    def initial_from(application: Application) -> dict[str, Any]:
        initial: dict[str, Any] = {name: getattr(application, name) for name in ANSWER_FIELDS}
        for name in ("owner_occupied", "woz_below_limit", "income_below_threshold"):
            initial[name] = _as_choice(initial[name])
        return initial

    def _explain(self, figures: IntakeFigures) -> None:
        version = figures.parameter_version
        self.fields["owner_occupied"].help_text = _(
            "Rented homes are outside the NIP: the landlord insulates. A mixed owners' "
            "association with at least one owner-occupier counts as owner-occupied."
        )
        if figures.insulated_from_year and figures.poor_before_year:
            self.fields["build_year"].help_text = _(
                "When nobody knows how a part of the home is insulated, the build year gives "
                "an estimate: built before %(poor)s hardly insulated, before %(insulated)s "
                "moderately; both count as poorly insulated. An estimate is shown as one."
            ) % {"poor": figures.poor_before_year, "insulated": figures.insulated_from_year}
        else:
            self.fields["build_year"].help_text = _(
                "When nobody knows how a part of the home is insulated, the build year gives "
                "an estimate. An estimate is shown as one."
            )
        if figures.woz_limit == "municipal_average":
            limit = _(
                "the average WOZ value of owner-occupied homes in the municipality, € %(amount)s"
            ) % {"amount": _euro(figures.woz_limit_eur)}
        elif figures.woz_limit_eur is not None:
            limit = _(
                "the NHG limit with energy-saving measures, € %(amount)s (NIP parameters "
                "%(version)s)"
            ) % {"amount": _euro(figures.woz_limit_eur), "version": version}
        else:
            limit = _(
                "the NHG limit with energy-saving measures (missing from the NIP parameters "
                "%(version)s)"
            ) % {"version": version}
        self.fields["woz_below_limit"].help_text = _(
            "This programme's limit is %(limit)s. Look at the owner's WOZ notice. Only yes or "
            "no is recorded, never the value itself. At least 80 %% of the homes must be at "
            "or under the limit."
        ) % {"limit": limit}
        pct = (
            "?"
            if figures.income_pct is None
            else formats.number_format(figures.income_pct.normalize())
        )
        if figures.norm_single_eur is not None and figures.norm_couple_eur is not None:
            norms = _(
                "the norm is € %(single)s a month for a single person and € %(couple)s for "
                "a couple (NIP parameters %(version)s)"
            ) % {
                "single": formats.number_format(figures.norm_single_eur, 2, force_grouping=True),
                "couple": formats.number_format(figures.norm_couple_eur, 2, force_grouping=True),
                "version": version,
            }
        else:
            norms = _("this year's norms are not yet in the NIP parameters %(version)s") % {
                "version": version
            }
        self.fields["income_below_threshold"].help_text = _(
            "Is the household's net income at most %(pct)s %% of the social assistance norm "
            "(bijstandsnorm)? %(norms)s. Then the home is in the focus group and the owner "
            "pays nothing. Only yes or no is recorded, never the income."
        ) % {"pct": pct, "norms": norms[:1].upper() + norms[1:]}

    def answers(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ANSWER_FIELDS}


class IntakeEditForm(VersionedForm, IntakeAnswersForm):
    """The intake's answers changed while no decision has been taken."""

    id_prefix = "intake"


class AddressFields(forms.Form):
    """A Dutch address, normalised as the rest of the product stores it."""

    postcode = forms.CharField(
        label=_("Postcode"), max_length=8, help_text=_("For example 3731 AB.")
    )
    house_number = forms.IntegerField(
        label=_("House number"),
        min_value=1,
        max_value=addresses.HOUSE_NUMBER_MAX,
        help_text=_("Only the number, for example 12."),
    )
    house_letter = forms.CharField(label=_("House letter"), max_length=1, required=False)
    addition = forms.CharField(label=_("Addition"), max_length=6, required=False)
    street = forms.CharField(label=_("Street"), max_length=120)
    city = forms.CharField(label=_("Town"), max_length=80)

    def clean_postcode(self) -> str:
        value = addresses.normalise_postcode(self.cleaned_data["postcode"])
        addresses.validate_postcode(value)
        return value

    def clean_house_letter(self) -> str:
        value = self.cleaned_data["house_letter"].strip().upper()
        addresses.validate_house_letter(value)
        return value

    def clean_addition(self) -> str:
        value = addresses.normalise_addition(self.cleaned_data["addition"])
        addresses.validate_addition(value)
        return value

    def address(self) -> dict[str, Any]:
        """The fields that identify a dwelling (its unique address)."""
        data = self.cleaned_data
        return {
            "postcode": data["postcode"],
            "house_number": data["house_number"],
            "house_letter": data["house_letter"],
            "house_number_addition": data["addition"],
        }


class NewApplicationForm(AddressFields, IntakeAnswersForm):
    """An intake recorded by the municipality or the unburdening party."""

    id_prefix = "new"

    channel = forms.ChoiceField(
        label=_("Who takes the intake?"),
        choices=_capitalised(
            [
                (IntakeChannel.MUNICIPALITY.value, IntakeChannel.MUNICIPALITY.label),
                (IntakeChannel.UNBURDENING_PARTY.value, IntakeChannel.UNBURDENING_PARTY.label),
            ]
        ),
        initial=IntakeChannel.MUNICIPALITY,
        widget=forms.RadioSelect,
    )

    field_order = [
        "channel",
        "postcode",
        "house_number",
        "house_letter",
        "addition",
        "street",
        "city",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["postcode"].widget.attrs.update({"autocomplete": "off"})
        self.fields["house_number"].widget.attrs["inputmode"] = "numeric"

    def address_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.field_order[1:]]


# ---------------------------------------------------------------------------------------
# Decisions and money


class DecisionForm(VersionedForm):
    """An amount per funding source of the programme's budget, and a note for the file."""

    id_prefix = "decision"

    note = forms.CharField(
        label=_("Note for the file"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, sources: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        note = self.fields.pop("note")
        self.sources = [source for source, _help in sources]
        for source, help_text in sources:
            self.fields[self.field_name(source)] = _decimal(
                label=capfirst(FundingSource(source).label),
                required=False,
                min_value=Decimal("0"),
                help_text=help_text,
                **MONEY,
            )
        self.fields["note"] = note

    @staticmethod
    def field_name(source: str) -> str:
        return f"amount_{source}"

    def amount_fields(self) -> list[forms.BoundField]:
        return [self[self.field_name(source)] for source in self.sources]

    def amounts(self) -> dict[str, Decimal | None]:
        return {source: self.cleaned_data[self.field_name(source)] for source in self.sources}


class RejectForm(VersionedForm):
    id_prefix = "reject"

    note = forms.CharField(
        label=_("Reason for the rejection"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The resident reads this reason; it also stays in the file."),
        error_messages={"required": _("Give the reason, for the resident and the file.")},
    )


class WithdrawForm(VersionedForm):
    """A button: the resident stops."""

    id_prefix = "withdraw"


class CompleteForm(VersionedForm):
    """A button: the measures are done and recorded."""

    id_prefix = "complete"


class PaymentForm(VersionedForm):
    id_prefix = "payment"

    source = forms.ChoiceField(label=_("Funding source"))
    amount = _decimal(label=_("Amount paid out (€)"), min_value=Decimal("0.01"), **MONEY)

    def __init__(self, *args: Any, commitments: Iterable[Commitment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [
            (c.source, capfirst(c.get_source_display())) for c in commitments
        ]


class SpeciesCheckForm(VersionedForm):
    id_prefix = "species"

    species_check = forms.ChoiceField(
        label=_("Nature-inclusive check"),
        choices=_capitalised(SpeciesCheck.choices),
        widget=forms.RadioSelect,
        help_text=_(
            "Cavity walls, facades and roofs can house protected bats and birds. Record "
            "whether a species management plan (SMP) or an exemption covers this home."
        ),
    )
    species_document = forms.FileField(
        label=_("Species management plan or exemption"),
        required=False,
        help_text=_("A PDF, JPEG or PNG file of at most 20 MB."),
        widget=forms.FileInput(attrs={"accept": ".pdf,application/pdf,image/jpeg,image/png"}),
    )

    def clean_species_document(self) -> ContentFile | None:
        return _document(self.cleaned_data.get("species_document"), "natuurcheck")


class MeasureForm(VersionedForm):
    """One executed measure, as the RVO monitoring asks it; the service checks the ISDE
    minimums and answers per field."""

    id_prefix = "measure"

    measure_type = forms.ModelChoiceField(
        label=_("Measure"),
        queryset=MeasureType.objects.none(),
        empty_label=_("Choose a measure"),
    )
    area_m2 = _decimal(
        label=_("Area (m²)"),
        required=False,
        max_digits=7,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("10000"),
        help_text=_("Insulation, glass, panels and doors."),
    )
    rd_value = _decimal(
        label=_("Rd value (m²K/W)"),
        required=False,
        max_digits=4,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("20"),
        help_text=_("Of the insulation added."),
    )
    u_value = _decimal(
        label=_("U value (W/m²K)"),
        required=False,
        max_digits=4,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("10"),
        help_text=_("Of the glass, panel or door."),
    )
    frame_u_value = _decimal(
        label=_("Frame U value (W/m²K)"),
        required=False,
        max_digits=4,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("10"),
        help_text=_("Of a new frame, for triple glass."),
    )
    executed_on = forms.DateField(
        label=_("Executed on"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    done_by = forms.ChoiceField(
        label=_("Done by"),
        choices=[("third_party", _("A company (third party)")), ("diy", _("The owner (DIY)"))],
        initial="third_party",
        widget=forms.RadioSelect,
    )
    cost_eur = _decimal(label=_("Cost (€)"), min_value=Decimal("0"), **MONEY)
    invoice = forms.FileField(
        label=_("Invoice"),
        required=False,
        help_text=_("A PDF, JPEG or PNG file of at most 20 MB."),
        widget=forms.FileInput(attrs={"accept": ".pdf,application/pdf,image/jpeg,image/png"}),
    )
    small_home_exception = forms.BooleanField(
        label=_("The home is too small for the minimum area"),
        required=False,
        help_text=_(
            "Since the second tranche the NIP may pay for homes that cannot meet the minimum area."
        ),
    )

    FACT_FIELDS = (
        "area_m2",
        "rd_value",
        "u_value",
        "frame_u_value",
        "executed_on",
        "done_by",
        "cost_eur",
        "small_home_exception",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["measure_type"].queryset = MeasureType.objects.filter(
            nip_eligible=True, is_active=True, code__in=NIP_MEASURES
        ).order_by("sort_order", "code")

    def clean_invoice(self) -> ContentFile | None:
        return _document(self.cleaned_data.get("invoice"), "factuur")

    def facts(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.FACT_FIELDS}


# ---------------------------------------------------------------------------------------
# The coach's intake from a house dossier


class HouseholdIntakeForm(_OwnIds):
    id_prefix = "nip"

    programme = forms.TypedChoiceField(
        label=_("Programme"),
        coerce=int,
        error_messages={"invalid_choice": _("Choose one of the programmes for this home.")},
    )

    def __init__(self, *args: Any, programmes: Iterable[Programme], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        programmes = list(programmes)
        self.fields["programme"].choices = [(p.pk, str(p)) for p in programmes]
        if len(programmes) == 1:
            self.fields["programme"].widget = forms.HiddenInput()
            self.fields["programme"].initial = programmes[0].pk
