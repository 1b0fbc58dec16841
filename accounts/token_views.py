"""The page where an organisation's key managers make and revoke its API keys.

A coordinator manages an initiative's keys (for the CRM API), staff of a municipality and
analysts of a province their body's keys (for the published figures); accounts.api_tokens
says who and for what.

A new key is shown once, in the answer to the POST that made it: it is not put in the
session or a message to survive a redirect, so it is never stored anywhere, and the page
is never cached.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import access, api_tokens
from accounts.forms import ApiTokenForm
from accounts.models import ApiToken, Organisation


def _organisation_for_keys(request: HttpRequest, slug: str) -> Organisation:
    """The organisation whose keys the user may manage: 404 if they cannot see it, 403 if
    they see it without the role that manages its keys (a coach), as on the CRM pages."""
    organisation = access.get_for(request.user, Organisation, slug=slug)
    if not api_tokens.may_manage_keys(request.user, organisation):
        raise PermissionDenied
    return organisation


def _page(
    request: HttpRequest,
    organisation: Organisation,
    *,
    form: ApiTokenForm | None = None,
    new_key: str = "",
    new_token: ApiToken | None = None,
    status: int = 200,
) -> HttpResponse:
    for_figures = api_tokens.KEY_KINDS[organisation.kind].api == api_tokens.AGGREGATES_API
    return render(
        request,
        "accounts/api_tokens.html",
        {
            "organisation": organisation,
            "for_figures": for_figures,
            # The API of the published figures is the data platform's; its address is
            # looked up by name only, so accounts imports nothing of it.
            "figures_url": request.build_absolute_uri(
                reverse("dataplatform-api:aggregates", args=["pc6"])
            )
            if for_figures
            else "",
            "tokens": api_tokens.api_token_list(viewer=request.user, organisation=organisation),
            "form": form or ApiTokenForm(),
            "new_key": new_key,
            "new_token": new_token,
            "now": timezone.now(),
        },
        status=status,
    )


@require_GET
@login_required
@never_cache
def api_token_list(request: HttpRequest, slug: str) -> HttpResponse:
    return _page(request, _organisation_for_keys(request, slug))


@require_POST
@login_required
@never_cache
def api_token_create(request: HttpRequest, slug: str) -> HttpResponse:
    organisation = _organisation_for_keys(request, slug)
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            token, key = api_tokens.api_token_create(
                organisation=organisation,
                name=form.cleaned_data["name"],
                actor=request.user,
                expires_at=form.expires_at(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _page(request, organisation, new_key=key, new_token=token)
    return _page(request, organisation, form=form, status=422)


@require_POST
@login_required
def api_token_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    organisation = _organisation_for_keys(request, slug)
    # The organisation's own keys only: a key of another organisation is not found here,
    # even for someone who manages both.
    token = get_object_or_404(ApiToken.objects.filter(organisation=organisation), pk=pk)
    api_tokens.api_token_revoke(token=token)
    messages.success(request, _("The API key “%(name)s” has been revoked.") % {"name": token.name})
    return redirect("accounts:api-token-list", slug=organisation.slug)
