"""Forms of the organisation pages. They check shape only; the services decide."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiToken


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text=_("What the key is for, for example the sign-up form on the website."),
    )
    valid_until = forms.DateField(
        label=_("Valid until"),
        required=False,
        help_text=_("The key stops working at the end of this day. Empty: until revoked."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean_valid_until(self) -> dt.date | None:
        value = self.cleaned_data["valid_until"]
        if value is not None and value < timezone.localdate():
            raise forms.ValidationError(_("Choose today or a later day."), code="past")
        return value

    def expires_at(self) -> dt.datetime | None:
        """The end of the chosen day in the site's time zone: the moment the key stops."""
        day = self.cleaned_data.get("valid_until")
        if day is None:
            return None
        return timezone.make_aware(dt.datetime.combine(day, dt.time.max))
