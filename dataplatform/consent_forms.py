"""The one form behind every button on the consent page: give or withdraw, for one purpose.

The form checks only the shape of what was sent; dataplatform.consent decides whether
the actor may record it and with which channel.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dataplatform.consent import STAFF_CHANNELS
from dataplatform.models import Channel, Purpose

GIVE = "give"
WITHDRAW = "withdraw"


class ConsentChangeForm(forms.Form):
    """Give or withdraw one purpose; staff also say how the resident told them."""

    purpose = forms.ChoiceField(label=_("Consent for"), choices=Purpose.choices)
    action = forms.ChoiceField(
        label=_("What to do"), choices=[(GIVE, _("give")), (WITHDRAW, _("withdraw"))]
    )
    channel = forms.ChoiceField(
        label=_("How did the resident tell you?"),
        choices=[(value, label) for value, label in Channel.choices if value in STAFF_CHANNELS],
        error_messages={
            "required": _("Choose how the resident told you."),
            "invalid_choice": _(
                "Choose how the resident told you: on paper, by phone or by e-mail or letter."
            ),
        },
    )

    def __init__(self, *args: Any, on_behalf: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_behalf = on_behalf
        if not on_behalf:
            # A resident records their own choice: always online, nothing to choose.
            del self.fields["channel"]

    @property
    def channel_value(self) -> str:
        return self.cleaned_data["channel"] if self.on_behalf else Channel.ONLINE
