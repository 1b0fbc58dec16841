"""The consent pages: a household's consents, and the coordinator's overview.

The household page is for the people who may change the household: its residents (who
record their own choice online), its assigned coach and its initiative's coordinators
(who record a choice made on paper, by phone or by e-mail on the resident's behalf).
Anyone else gets a 404 (access.get_for). Every change is one POST and a redirect back
(PRG); a double submit finds the work done and changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import access
from accounts.access import Action
from dataplatform import consent
from dataplatform.consent_forms import GIVE, ConsentChangeForm
from dataplatform.models import Purpose
from dossier.access_log import access_logged, access_logged_list, listed
from dossier.models import Household

PAGE_SIZE = 50


def _household(request: HttpRequest, pk: int) -> Household:
    return access.get_for(
        request.user,
        Household.objects.select_related(
            "initiative", "dwelling", "assigned_coach"
        ).prefetch_related("residents"),
        action=Action.CHANGE,
        pk=pk,
    )


@access_logged("consent", subject="household", arg="household_pk")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def consent_page(request: HttpRequest, household_pk: int) -> HttpResponse:
    household = _household(request, household_pk)
    on_behalf = not consent.acts_as_resident(request.user, household)
    if request.method == "POST":
        return _change(request, household, on_behalf=on_behalf)
    return render(
        request,
        "dataplatform/consent.html",
        {
            "household": household,
            "on_behalf": on_behalf,
            "statuses": consent.consent_status(household),
            "form": ConsentChangeForm(on_behalf=on_behalf),
        },
    )


def _change(request: HttpRequest, household: Household, *, on_behalf: bool) -> HttpResponse:
    page = reverse("dataplatform:consent", args=[household.pk])
    form = ConsentChangeForm(request.POST, on_behalf=on_behalf)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(page)
    purpose = form.cleaned_data["purpose"]
    label = {"purpose": Purpose(purpose).label}
    fields = {
        "household": household,
        "purpose": purpose,
        "channel": form.channel_value,
        "actor": request.user,
    }
    try:
        if form.cleaned_data["action"] == GIVE:
            _record, created = consent.consent_give_or_get(**fields)
            if created:
                messages.success(
                    request,
                    _(
                        "Consent given for %(purpose)s. It counts from the next publication "
                        "of figures on."
                    )
                    % label,
                )
            else:
                messages.info(
                    request,
                    _("Consent for %(purpose)s was already given; nothing changed.") % label,
                )
        elif consent.consent_withdraw(**fields) is not None:
            messages.success(
                request,
                _(
                    "Consent withdrawn for %(purpose)s. It counts from the next publication "
                    "of figures on."
                )
                % label,
            )
        else:
            messages.info(
                request,
                _("Consent for %(purpose)s was not given, so nothing was withdrawn.") % label,
            )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(f"{page}#purpose-{purpose}")


@access_logged_list("consent_overview")
@require_GET
@login_required
@never_cache
def consent_overview(request: HttpRequest) -> HttpResponse:
    initiative_ids = consent.coordinated_initiatives(request.user)
    if not initiative_ids:
        raise Http404
    households = (
        Household.objects.visible_to(request.user)
        .filter(initiative_id__in=initiative_ids)
        .select_related("dwelling", "initiative")
        .order_by("name", "pk")
    )
    page = Paginator(households, PAGE_SIZE).get_page(request.GET.get("page"))
    listed(request, page.object_list, page="consent_overview")
    states = consent.consent_states(page.object_list)
    counts = consent.consent_counts(initiative_ids=initiative_ids)
    return render(
        request,
        "dataplatform/consent_overview.html",
        {
            "page": page,
            "purposes": [
                (purpose.value, purpose.label, counts[purpose.value]) for purpose in Purpose
            ],
            "rows": [
                (household, [states[household.pk][purpose] for purpose in Purpose.values])
                for household in page.object_list
            ],
            "several_initiatives": len(initiative_ids) > 1,
        },
    )
