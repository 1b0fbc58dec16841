from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from dataplatform.models import Channel

# Codes only: the Removal row keeps the reason, and it holds no free text that could
# name the resident.
REASONS = [
    ("request", _("The resident asked for erasure (AVG art. 17)")),
    ("consent_withdrawn", _("The resident withdrew consent for the processing")),
    ("no_longer_needed", _("The data are no longer needed for the guidance")),
]


class ErasureForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=REASONS)
    channel = forms.ChoiceField(
        label=_("How the request reached the initiative"),
        choices=[(value, label) for value, label in Channel.choices if value != Channel.RETENTION],
    )
    confirm = forms.BooleanField(
        label=_("I understand that this cannot be undone"),
        required=True,
        error_messages={"required": _("Tick the box to confirm the erasure.")},
    )
