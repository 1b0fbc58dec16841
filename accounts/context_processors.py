from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts import access
from accounts.roles import Role


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url: str

    def is_current(self, path: str) -> bool:
        return path == self.url if self.url == "/" else path.startswith(self.url)


def navigation(request: HttpRequest) -> dict[str, object]:
    """The menu: each role sees what it may do, and nothing else."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    roles = access.roles_by_organisation(user)
    all_roles = frozenset().union(*roles.values()) if roles else frozenset()
    items = [NavItem(_("Overview"), reverse("dossier:dashboard"))]
    if Role.COORDINATOR in all_roles:
        items.append(NavItem(_("Sign-ups"), reverse("crm:case-list")))
        items.append(NavItem(_("Households"), reverse("dossier:household-list")))
        items.append(NavItem(_("Energy coaches"), reverse("crm:coach-list")))
        items.append(NavItem(_("Dashboard"), reverse("crm:dashboard")))
    elif Role.COACH in all_roles:
        items.append(NavItem(_("My households"), reverse("dossier:household-list")))
    if Role.COACH in all_roles:
        items.append(NavItem(_("My visits"), reverse("crm:visit-list")))
    elif access.is_resident(user):
        items.append(NavItem(_("My home"), reverse("dossier:household-list")))
    if Role.MUNICIPALITY_STAFF in all_roles:
        items.append(NavItem(_("Insulation programmes"), reverse("nip:programme-list")))
    if all_roles & {Role.MUNICIPALITY_STAFF, Role.PROVINCE_ANALYST}:
        items.append(NavItem(_("Neighbourhood figures"), reverse("dataplatform:dashboard")))
    if Role.COORDINATOR in all_roles:
        items.append(NavItem(_("Consent"), reverse("dataplatform:consent-overview")))
    # Coaches and residents get nothing new: their menu stays short.
    if all_roles & {Role.COORDINATOR, Role.MUNICIPALITY_STAFF, Role.PROVINCE_ANALYST}:
        items.append(NavItem(_("Agreements"), reverse("dataplatform:agreement-list")))
    if user.is_staff:
        items.append(NavItem(_("Administration"), reverse("admin:index")))
    items.append(NavItem(_("My account"), reverse("account_email")))
    path = request.path
    return {
        "nav_items": [(item, item.is_current(path)) for item in items],
        "user_roles": sorted(all_roles),
    }
