"""The page where a coordinator makes and revokes the initiative's API keys.

A new key is shown once, in the answer to the POST that made it: it is not put in the
session or a message to survive a redirect, so it is never stored anywhere, and the page
is never cached.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import access, api_tokens
from accounts.access import Action
from accounts.forms import ApiTokenForm
from accounts.models import ApiToken, Organisation


def _organisation_for_keys(request: HttpRequest, slug: str) -> Organisation:
    """The initiative whose keys the user may manage: 404 if they cannot see it, 403 if they
    see it without coordinating it (a coach), as on the CRM pages."""
    organisation = access.get_for(request.user, Organisation, slug=slug)
    if organisation.kind != Organisation.Kind.INITIATIVE:
        raise Http404
    if not access.allows(request.user, ApiToken(organisation=organisation), Action.CHANGE):
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
    return render(
        request,
        "accounts/api_tokens.html",
        {
            "organisation": organisation,
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
    token = access.get_for(
        request.user,
        ApiToken.objects.filter(organisation=organisation),
        action=Action.CHANGE,
        pk=pk,
    )
    api_tokens.api_token_revoke(token=token)
    messages.success(request, _("The API key “%(name)s” has been revoked.") % {"name": token.name})
    return redirect("accounts:api-token-list", slug=organisation.slug)
