from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts import access
from accounts import selectors as account_selectors
from accounts.roles import Role
from dossier import selectors


@require_GET
@login_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    roles = access.roles_by_organisation(user)
    all_roles = frozenset().union(*roles.values()) if roles else frozenset()
    households = selectors.household_list(viewer=user)
    return render(
        request,
        "dossier/dashboard.html",
        {
            "organisations": account_selectors.organisations_of(viewer=user),
            "summaries": selectors.initiative_summaries(viewer=user),
            "is_coach": Role.COACH in all_roles,
            "is_government": bool(all_roles & {Role.MUNICIPALITY_STAFF, Role.PROVINCE_ANALYST}),
            "is_resident": access.is_resident(user),
            "households": households[:10],
            "household_count": households.count(),
        },
    )


@require_GET
@login_required
@never_cache
def household_list(request: HttpRequest) -> HttpResponse:
    households = selectors.household_list(viewer=request.user)
    return render(request, "dossier/household_list.html", {"households": households})


@require_GET
@login_required
@never_cache
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = access.get_for(request.user, selectors.household_list(viewer=request.user), pk=pk)
    return render(
        request,
        "dossier/household_detail.html",
        {
            "household": household,
            "residents": household.residents.all(),
            "may_change": request.user.has_perm("dossier.change_household", household),
        },
    )
