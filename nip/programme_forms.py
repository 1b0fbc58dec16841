"""Forms of the programme pages: the programme, its budget lines and its business cases.

They check shape only; the writes in programme_views decide (under a lock) whether the
budget still covers what is committed and whether someone else saved in between.

Rows are plain forms with a hidden id rather than model formsets: a save replaces the
programme's lines with what the page shows, matched on those ids, so a double submit
or a second tab can neither duplicate a line nor touch a line of another programme.
Empty extra rows are ignored; as many as fit a page are offered, and more appear after
a save, so nothing depends on JavaScript.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from nip.models import FundingSource, Programme, WozLimit

DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}
MONEY_MAX = Decimal("9999999999.99")
# "273.020" and "1.460" are thousands in Dutch; "307.50" can only be a decimal point.
_DUTCH_THOUSANDS = re.compile(r"\d{1,3}(\.\d{3})+")
BUDGET_EXTRA_ROWS = 3
NEW_BUDGET_ROWS = 6
CASE_EXTRA_LINES = 2
NEW_CASE_LINES = 3


class EuroField(forms.DecimalField):
    """An amount in euros as a Dutch person types it: "1.460", "307,50", "€ 32.750"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0"))
        kwargs.setdefault("max_value", MONEY_MAX)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        )
        super().__init__(**kwargs)
        self.error_messages["invalid"] = _("Enter an amount, for example 307,50.")

    def to_python(self, value: Any) -> Decimal | None:
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        text = re.sub(r"[€\s\u00a0]", "", str(value))
        if "," in text:
            text = text.replace(".", "").replace(",", ".")
        elif _DUTCH_THOUSANDS.fullmatch(text):
            text = text.replace(".", "")
        try:
            return Decimal(text)
        except InvalidOperation as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc

    def validate(self, value: Decimal | None) -> None:
        super().validate(value)
        if value is not None and not value.is_finite():
            raise ValidationError(self.error_messages["invalid"], code="invalid")

    def prepare_value(self, value: Any) -> Any:
        # Shown as typed back: a decimal comma, no thousands separator, cents only if any.
        if isinstance(value, Decimal):
            places = 0 if value == value.to_integral_value() else 2
            return number_format(value, places, use_l10n=True, force_grouping=False)
        return value


def _source_choices(*, with_state: bool) -> list[tuple[str, Any]]:
    choices = [(value, label) for value, label in FundingSource.choices]
    if not with_state:
        choices = [choice for choice in choices if choice[0] != FundingSource.ISDE]
    return [("", _("Choose a source")), *choices]


class ProgrammeForm(forms.ModelForm):
    """The programme's own fields; the municipality is chosen only when there are several."""

    class Meta:
        model = Programme
        fields = (
            "name",
            "tranche",
            "period_start",
            "period_end",
            "measures_from",
            "spend_deadline",
            "target_homes",
            "woz_limit",
            "municipal_average_woz_eur",
            "amount_per_home_eur",
            "reporting_period",
        )
        widgets = {
            "period_start": forms.DateInput(**DATE_WIDGET),
            "period_end": forms.DateInput(**DATE_WIDGET),
            "measures_from": forms.DateInput(**DATE_WIDGET),
            "spend_deadline": forms.DateInput(**DATE_WIDGET),
            "woz_limit": forms.RadioSelect,
            "reporting_period": forms.RadioSelect,
        }
        help_texts = {
            "municipal_average_woz_eur": _(
                "Only when the programme uses the municipality's average WOZ value."
            ),
            "tranche": _("1, 2 or 3: one programme per tranche."),
        }

    municipal_average_woz_eur = EuroField(
        label=_("average WOZ value of owner-occupied homes (€)"), required=False
    )
    amount_per_home_eur = EuroField(
        label=_("NIP amount per home (€)"),
        required=False,
        help_text=_("Leave empty to use the amount of the NIP parameters for the date."),
    )

    def __init__(
        self, *args: Any, municipalities: list[tuple[int, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.municipality_id: int | None = None
        # Another programme of the municipality for the same tranche, found by clean().
        self.clash: Programme | None = None
        if municipalities and len(municipalities) > 1:
            self.fields["municipality"] = forms.TypedChoiceField(
                label=_("Municipality"),
                choices=[("", _("Choose a municipality")), *municipalities],
                coerce=int,
            )
            self.order_fields(["municipality", *self._meta.fields])  # type: ignore[misc]
        elif municipalities:
            self.municipality_id = municipalities[0][0]
        self.fields["target_homes"].widget.attrs["inputmode"] = "numeric"
        self.fields["tranche"].widget.attrs["inputmode"] = "numeric"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("municipality"):
            self.municipality_id = data["municipality"]
        if (
            data.get("woz_limit") == WozLimit.MUNICIPAL_AVERAGE
            and data.get("municipal_average_woz_eur") is None
            and "municipal_average_woz_eur" not in self.errors
        ):
            self.add_error(
                "municipal_average_woz_eur",
                _("Enter the average WOZ value when the programme uses it."),
            )
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", _("The programme cannot end before it starts."))
        deadline = data.get("spend_deadline")
        if start and deadline and deadline < start:
            self.add_error("spend_deadline", _("The deadline cannot be before the start."))
        tranche = data.get("tranche")
        municipality = self.municipality_id or self.instance.municipality_id
        if tranche and municipality:
            clash = Programme.objects.filter(municipality_id=municipality, tranche=tranche)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            self.clash = clash.first()
            if self.clash is not None:
                self.add_error(
                    "tranche", _("This municipality already has a programme for this tranche.")
                )
        return data

    def _post_clean(self) -> None:
        # The model's own check on the period would repeat the message above as a second,
        # page-wide error.
        if self.errors:
            return
        super()._post_clean()


class _Row(forms.Form):
    """One row of a list the page edits as a whole; `id` matches it to the stored row."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)


class BudgetLineForm(_Row):
    source = forms.ChoiceField(label=_("Funding source"), choices=())
    # Sizes for the columns of the page's table: a long description, a short amount.
    description = forms.CharField(
        label=_("Description"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"size": 40}),
    )
    amount_eur = EuroField(label=_("Amount (€)"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = _source_choices(with_state=False)
        self.fields["amount_eur"].widget.attrs["size"] = 9


class _Rows(forms.BaseFormSet):
    """Rows of which blank extra ones are ignored and removed ones left out."""

    def _content(self, form: forms.Form) -> dict[str, Any]:
        data = getattr(form, "cleaned_data", None) or {}
        return {name: value for name, value in data.items() if name not in ("id", "DELETE")}

    def rows(self) -> list[dict[str, Any]]:
        """The rows the page asks to keep, in its order, each with its id (or None)."""
        kept = []
        seen: set[int] = set()
        for form in self.forms:
            if self._should_delete_form(form):
                continue
            content = self._content(form)
            if not any(value not in (None, "") for value in content.values()):
                continue
            row_id = form.cleaned_data.get("id")
            # Only a tampered page sends one id twice: the second row becomes a new one.
            kept.append({**content, "id": row_id if row_id not in seen else None})
            if row_id is not None:
                seen.add(row_id)
        return kept


def _rows_formset(form: type[forms.Form], *, extra: int) -> type[_Rows]:
    return forms.formset_factory(
        form,
        formset=_Rows,
        extra=extra,
        can_delete=True,
        max_num=40,
        absolute_max=60,
        validate_max=True,
    )


def budget_formset(*args: Any, new: bool = False, **kwargs: Any) -> _Rows:
    extra = NEW_BUDGET_ROWS if new else BUDGET_EXTRA_ROWS
    return _rows_formset(BudgetLineForm, extra=extra)(*args, prefix="budget", **kwargs)


class CaseForm(forms.Form):
    """A business case's own fields; its lines are a formset of their own."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    # Required, but a blank extra form (a new table nobody started) is left alone.
    title = forms.CharField(label=_("Title"), max_length=200)
    note = forms.CharField(
        label=_("Explanation"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CaseLineForm(_Row):
    label = forms.CharField(label=_("Cost item"), max_length=200)
    homes = forms.IntegerField(
        label=_("Number of homes"),
        min_value=0,
        max_value=1_000_000,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    amount_per_home_eur = EuroField(label=_("Amount per home (€)"))
    source = forms.ChoiceField(label=_("Funding source"), choices=())
    # The page explains the alternatives once, above all the lines.
    option_group = forms.CharField(label=_("Alternatives group"), max_length=40, required=False)
    option_label = forms.CharField(label=_("Alternative"), max_length=60, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = _source_choices(with_state=True)


def cases_formset(*args: Any, **kwargs: Any) -> _Rows:
    """The programme's cases; one extra, blank, for a new table."""
    return _rows_formset(CaseForm, extra=1)(*args, prefix="cases", **kwargs)


def case_lines_formset(*args: Any, case_prefix: str, new: bool, **kwargs: Any) -> _Rows:
    extra = NEW_CASE_LINES if new else CASE_EXTRA_LINES
    return _rows_formset(CaseLineForm, extra=extra)(*args, prefix=f"{case_prefix}-lines", **kwargs)
