"""The consent panel on a household page, as a template tag.

The household page belongs to the dossier app, which may not import dataplatform
(accounts ← dossier ← dataplatform); its template asks for the panel by name instead.
"""

from __future__ import annotations

from typing import Any

from django import template

from accounts import access
from accounts.access import Action
from dataplatform import consent

register = template.Library()


@register.inclusion_tag("dataplatform/partials/consent_panel.html", takes_context=True)
def consent_panel(context: template.Context, household: Any) -> dict[str, Any]:
    """Status per purpose and a link, for the household's residents, coach and coordinators."""
    user = context["request"].user
    # Exactly the people who may change the household may see and change its consents.
    if not access.allows(user, household, Action.CHANGE):
        return {"statuses": None}
    return {
        "household": household,
        "statuses": consent.consent_status(household),
        "on_behalf": not consent.acts_as_resident(user, household),
    }
