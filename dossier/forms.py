"""Forms of the dossier pages: one per topic, per building component and per measure.

They validate shape only; `services.section_save` decides what is stored and records
where each value came from.
"""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dossier.models import BuildingComponent, Delivery, Dossier, DossierMeasure
from dossier.services import COMPONENT_FIELDS, MEASURE_ADVICE_FIELDS, MEASURE_FIELDS, SECTION_FIELDS

# Small sets of choices read best as radio buttons on a tablet or phone.
RADIO_MAX_CHOICES = 8

HELP_TEXTS: dict[str, Any] = {
    "dwelling_type": _("What kind of house do you live in?"),
    "apartment_type": _("Only for an apartment: what kind of apartment is it?"),
    "build_year": _("The year the house was built. An estimate is fine."),
    "floor_area_m2": _("The living area in square metres. You find it on your WOZ notice."),
    "storeys": _("How many floors does the house have, including the attic if you live there?"),
    "roof_type": _("Is the roof sloping, flat or both?"),
    "orientation": _("Which way does the back of the house face? This matters for solar panels."),
    "is_monument": _("A listed building has extra rules for changes."),
    "ownership": _("Do you own the house or do you rent it?"),
    "energy_label_kind": _("You can look up your energy label on ep-online.nl."),
    "energy_label": _("The letter on your energy label, for example C."),
    "energy_label_date": _("The date on your energy label."),
    "occupants": _("How many people live in the house?"),
    "gas_m3_per_year": _("You find this on the annual bill of your energy supplier."),
    "electricity_kwh_per_year": _("You find this on the annual bill of your energy supplier."),
    "electricity_returned_kwh_per_year": _("Only if you have solar panels. It is on your bill."),
    "thermostat_c": _("The temperature you usually set in the living room, for example 19,5."),
    "heating_system": _("How is your house heated?"),
    "boiler_year": _("The year is often on a sticker on the boiler."),
    "hot_water": _("Where does your hot water come from?"),
    "cooking": _("How do you cook?"),
    "ventilation": _("How does fresh air get into the house?"),
    "has_solar_panels": _("Do you have solar panels on your roof?"),
    "solar_panel_count": _("Only if you have solar panels."),
    "solar_panel_wp": _("Only if you have solar panels. It is on the invoice of the panels."),
    "solar_panel_year": _("Only if you have solar panels."),
    "complaint_draught": _("Do you feel cold air coming in at windows, doors or floors?"),
    "complaint_cold_floors": _("Are the floors cold on your feet?"),
    "complaint_damp": _("Do you see damp spots or mould, for example in the bathroom?"),
    "plans_renovation": _("Do you plan to renovate in the coming years?"),
    "plans_moving": _("Do you plan to move?"),
    "main_priority": _("What matters most to you?"),
    "wishes": _("Anything else the energy coach should know? Write it here."),
    "insulation": _("Is this part of the home insulated?"),
    "rc_value": _("Only if you know it, for example from an invoice."),
    "u_value": _("Only if you know it, for example from an invoice."),
    "area_m2": _("An estimate is fine."),
    "year": _("The year it was insulated or replaced."),
    "status": _("What have you done, or what do you want to do?"),
    "done_year": _("Only if it has been done."),
    "done_by": _("Only if it has been done."),
    "quote_amount_eur": _("Only if you have a quote from a company."),
    "quote_company": _("Only if you have a quote from a company."),
    "quote_date": _("Only if you have a quote from a company."),
}


class DossierFieldsMixin:
    """Plain labels and help texts, "Not answered yet" for "", radios for small choice sets."""

    def _prepare_fields(self) -> None:
        for name, field in self.fields.items():  # type: ignore[attr-defined]
            field.help_text = HELP_TEXTS.get(name, field.help_text)
            field.label = field.label[:1].upper() + field.label[1:] if field.label else field.label
            choices = getattr(field, "choices", None)
            if choices is None or isinstance(field, forms.ModelChoiceField):
                if isinstance(field, forms.DateField):
                    field.widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
                elif isinstance(field, forms.DecimalField):
                    field.localize = True
                    field.widget = forms.TextInput(attrs={"inputmode": "decimal"})
                    field.widget.is_localized = True
                elif isinstance(field, forms.IntegerField):
                    field.widget.attrs["inputmode"] = "numeric"
                continue
            # "" is "not answered yet"; "unknown" stays an answer of its own.
            answers = [(value, label) for value, label in choices if value != ""]
            field.choices = [("", _("Not answered yet")), *answers]
            if len(answers) <= RADIO_MAX_CHOICES:
                field.widget = forms.RadioSelect(choices=field.choices)
            else:
                field.widget.choices = field.choices


class SectionForm(DossierFieldsMixin, forms.ModelForm):
    """The dossier columns of one topic; built per topic by `section_form_class`."""

    class Meta:
        model = Dossier
        fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_fields()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        dwelling_type = data.get("dwelling_type", self.instance.dwelling_type)
        if data.get("apartment_type") and dwelling_type != "apartment":
            self.add_error("apartment_type", _("Only fill this in when the home is an apartment."))
        if "energy_label" in self.fields and data.get("energy_label"):
            kind = data.get("energy_label_kind", self.instance.energy_label_kind)
            if kind not in ("registered", "indicative"):
                self.add_error(
                    "energy_label",
                    _("Choose first whether the label is registered or indicative."),
                )
        return data


@functools.cache
def section_form_class(section: str) -> type[SectionForm]:
    # Made once per topic and process: every autosave asks, and each form instance works
    # on its own deep copy of the class's fields.
    return forms.modelform_factory(Dossier, form=SectionForm, fields=SECTION_FIELDS[section])


class ComponentForm(DossierFieldsMixin, forms.ModelForm):
    class Meta:
        model = BuildingComponent
        fields = COMPONENT_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_fields()


class MeasureForm(DossierFieldsMixin, forms.ModelForm):
    """What a resident says about one measure; staff also give their advice here."""

    class Meta:
        model = DossierMeasure
        fields = MEASURE_FIELDS

    def __init__(self, *args: Any, staff: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not staff:
            for name in MEASURE_ADVICE_FIELDS:
                del self.fields[name]
        self._prepare_fields()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # The year and who did it belong to a measure that is done; drop them otherwise
        # rather than refuse the whole save.
        if data.get("status") != "done":
            data["done_year"], data["done_by"] = None, ""
        return data


class SaveForm(forms.Form):
    """What comes with every save besides the answers: the version the editor started from."""

    version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


class StaffSaveForm(SaveForm):
    on_behalf_of_resident = forms.BooleanField(
        label=_("Fill in together with the resident"),
        required=False,
        help_text=_("The answers are then recorded as the resident's, entered by you."),
    )
    notes = forms.CharField(
        label=_("Notes of the energy coach"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only staff see these notes."),
    )
    checked_in_home = forms.BooleanField(label=_("Checked in the home"), required=False)


class ValueCheckForm(forms.Form):
    key = forms.CharField(max_length=60)


class InviteForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address of the resident"),
        help_text=_("The resident receives an e-mail with a link to log in."),
    )


class ReportRequestForm(forms.Form):
    summary = forms.CharField(
        label=_("Explanation for the resident"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Appears at the start of the report, in your own words."),
    )
    delivery = forms.ChoiceField(
        label=_("How does the resident receive the report?"),
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, recipients: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = []
        if recipients:
            choices.append(
                (
                    Delivery.EMAIL,
                    _("By e-mail to %(addresses)s") % {"addresses": ", ".join(recipients)},
                )
            )
        choices.append((Delivery.PRINT, _("On paper: I print it and hand it over or post it")))
        self.fields["delivery"].choices = choices
        self.fields["delivery"].initial = choices[0][0]
