from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts import access, api_tokens, selectors
from accounts.models import Organisation


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dossier:dashboard")
    return render(request, "accounts/landing.html")


@require_GET
@never_cache
def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@require_GET
@login_required
def organisation_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organisation = access.get_for(request.user, Organisation, slug=slug)
    members = selectors.membership_list(viewer=request.user, organisation=organisation)
    return render(
        request,
        "accounts/organisation_detail.html",
        {
            "organisation": organisation,
            "members": members,
            "initiatives": selectors.initiatives_in_area(organisation=organisation),
            "may_change": access.allows(request.user, organisation, access.Action.CHANGE),
            "may_manage_keys": api_tokens.may_manage_keys(request.user, organisation),
        },
    )
