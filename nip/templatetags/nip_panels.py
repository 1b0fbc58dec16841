"""The NIP's panel on a household page, as a template tag.

The household page belongs to the dossier app, which may not import nip (accounts ←
dossier ← nip); its template asks for the panel by name instead.
"""

from __future__ import annotations

from typing import Any

from django import template

from nip.application_views import household_nip_panel

register = template.Library()


@register.inclusion_tag("nip/household_nip_panel.html", takes_context=True)
def nip_household_panel(context: template.Context, household: Any) -> dict[str, Any]:
    request = context["request"]
    return {
        "nip_panel": household_nip_panel(viewer=request.user, household=household),
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }
