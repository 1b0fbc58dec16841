"""Forms of the import of existing residents. They check shape; crm.importing decides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from crm import importing

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from django.forms import BoundField

    from accounts.models import Organisation

NOT_IN_FILE = ""
REQUIRED = frozenset({"postcode", "house_number"})
# The mapping screen in four short groups rather than one long list of fifteen.
GROUPS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (_("Name"), ("name", "first_name", "infix", "last_name")),
    (
        _("Address"),
        ("postcode", "house_number", "house_letter", "addition", "street", "city"),
    ),
    (_("Contact details"), ("email", "phone")),
    (_("Their question"), ("wants_help_with", "notes", "is_member")),
)
HELP_TEXTS = {
    "name": _("Or choose the columns with the first and last name below."),
    "house_number": _(
        "A column with street and number together (Kerkstraat 12a) may be chosen for both "
        "the street and the house number."
    ),
    "notes": _("Added to the case's contact history."),
}
PROBLEM_MESSAGES = {
    "required": _("Choose the column that holds this."),
    "name_required": _("Choose the column with the name, or the columns with first and last name."),
    "column_twice": _("This column has already been chosen for another field."),
}


class ImportUploadForm(forms.Form):
    initiative = forms.TypedChoiceField(label=_("Energy initiative"), coerce=int)
    file = forms.FileField(
        label=_("File"),
        widget=forms.FileInput(
            attrs={
                "accept": ".csv,.xlsx,text/csv,"
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
    )

    def __init__(self, *args: Any, initiatives: Sequence[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "A CSV file or an Excel workbook (.xlsx) of at most %(size)s MB and %(rows)s rows. "
            "The first row holds the column names."
        ) % {
            "size": importing.MAX_BYTES // importing.MB,
            "rows": number_format(importing.MAX_ROWS, force_grouping=True),
        }
        if len(initiatives) == 1:
            # Nothing to choose: the one initiative the coordinator works for.
            del self.fields["initiative"]
        else:
            self.fields["initiative"].choices = [
                ("", _("Choose…")),
                *((str(initiative.pk), initiative.name) for initiative in initiatives),
            ]


class ImportMappingForm(forms.Form):
    """For every field of the import: the column of the file that holds it, or none."""

    def __init__(
        self,
        *args: Any,
        columns: Sequence[importing.Column],
        mapping: Mapping[str, int],
        **kwargs: Any,
    ) -> None:
        # Ids of their own: the page also has a table of the file's columns.
        kwargs.setdefault("auto_id", "map_%s")
        super().__init__(*args, **kwargs)
        choices = [
            (NOT_IN_FILE, _("Not in the file")),
            *((str(column.index), column.choice_label) for column in columns),
        ]
        for target in importing.TARGETS:
            self.fields[target.key] = forms.TypedChoiceField(
                label=target.label,
                choices=choices,
                coerce=int,
                empty_value=None,
                required=target.key in REQUIRED,
                error_messages={"required": PROBLEM_MESSAGES["required"]},
                initial=str(mapping[target.key]) if target.key in mapping else NOT_IN_FILE,
                help_text=HELP_TEXTS.get(target.key, ""),
            )

    @property
    def groups(self) -> list[tuple[Any, list[BoundField]]]:
        return [(legend, [self[key] for key in keys]) for legend, keys in GROUPS]

    @property
    def mapping(self) -> dict[str, int | None]:
        return {key: self.cleaned_data.get(key) for key in importing.TARGET_KEYS}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for key, code in importing.mapping_problems(self.mapping):
            if key not in self.errors:
                self.add_error(key, forms.ValidationError(PROBLEM_MESSAGES[code], code=code))
        return data
