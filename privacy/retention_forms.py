"""The form of an initiative's retention periods. It checks shape and bounds; the service stores."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.retention import PERIODS, CategoryState


class RetentionSettingsForm(forms.Form):
    """One whole number of days per settable category, within that category's bounds."""

    def __init__(self, *args: Any, states: list[CategoryState], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {state.period.category.value: state.days for state in states})
        super().__init__(*args, **kwargs)
        for state in states:
            period = state.period
            bounds = {"minimum": period.minimum, "maximum": period.maximum}
            message = _("Enter a whole number of days from %(minimum)s to %(maximum)s.") % bounds
            self.fields[period.category.value] = forms.IntegerField(
                label=_("%(category)s: days") % {"category": period.category.label.capitalize()},
                min_value=period.minimum,
                max_value=period.maximum,
                help_text=_("From %(minimum)s to %(maximum)s days; default %(default)s.")
                % {**bounds, "default": period.default},
                error_messages={
                    "required": message,
                    "invalid": message,
                    "min_value": message,
                    "max_value": message,
                },
            )

    def days(self) -> dict[str, int]:
        return {category: self.cleaned_data[category] for category in PERIODS}
