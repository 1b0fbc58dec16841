"""The resident's rights: their own data as a download, and erasure on request.

A resident downloads everything stored about them ("Mijn gegevens"); the coordinator of
the household's initiative, and only they, erases a household's personal data when the
resident asks. Everyone else gets a 404, as for any household they may not see.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import access, exports
from accounts.access import Action
from accounts.roles import Role
from dossier.access_log import access_logged
from dossier.models import Household
from privacy import erasure, export
from privacy.forms import ErasureForm
from privacy.models import Removal

ACTIONS = {
    "deleted": _("removed"),
    "anonymised": _("anonymised"),
    "actor anonymised": _("anonymised as the one who acted"),
    "withdrawn": _("withdrawn"),
    "unlinked": _("unlinked"),
    "kept": _("kept"),
}


def _resident(request: HttpRequest) -> None:
    # Staff have no "my data" page here: their data are their organisation's business.
    if not access.is_resident(request.user):
        raise Http404


@require_GET
@login_required
@never_cache
def my_data(request: HttpRequest) -> HttpResponse:
    _resident(request)
    return render(request, "privacy/rights/my_data.html")


def _download(request: HttpRequest, kind: str) -> HttpResponse:
    _resident(request)
    made = export.resident_export(user=request.user)
    if kind == "json":
        body, content_type = export.export_json(made), "application/json; charset=utf-8"
    else:
        body, content_type = export.export_pdf(made), "application/pdf"
    response = HttpResponse(body, content_type=content_type)
    filename = export.export_filename(made, kind)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    exports.download_headers(response)
    household = request.user.households.order_by("pk").first()
    exports.export_log(
        actor=request.user,
        subject=household or request.user,
        export="resident_data",
        details={"format": kind, "households": len(made.households)},
    )
    return response


@require_GET
@login_required
@never_cache
def my_data_json(request: HttpRequest) -> HttpResponse:
    return _download(request, "json")


@require_GET
@login_required
@never_cache
def my_data_pdf(request: HttpRequest) -> HttpResponse:
    return _download(request, "pdf")


def _coordinated(request: HttpRequest) -> QuerySet[Household]:
    """The households of the initiatives the user coordinates; coaches and residents none."""
    initiatives = access.organisations_with_role(request.user, [Role.COORDINATOR])
    return Household.objects.filter(initiative_id__in=initiatives)


@access_logged("erase", subject="household")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def household_erase(request: HttpRequest, pk: int) -> HttpResponse:
    household = access.get_for(request.user, _coordinated(request), action=Action.CHANGE, pk=pk)
    if erasure.is_erased(household):
        return redirect("privacy:household-erased", pk=household.pk)
    form = ErasureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        erasure.household_erase(
            household=household,
            performed_by=request.user,
            withdrawal_channel=form.cleaned_data["channel"],
            request_reason=form.cleaned_data["reason"],
        )
        return redirect("privacy:household-erased", pk=household.pk)
    return render(
        request,
        "privacy/rights/erase_confirm.html",
        {"household": household, "form": form, "kept": erasure.KEPT},
        status=422 if request.method == "POST" else 200,
    )


@dataclass(frozen=True)
class CountRow:
    what: str
    action: str
    count: int


def _count_rows(details: dict) -> list[CountRow]:
    rows = []
    for label, actions in details.items():
        if label == "request" or not isinstance(actions, dict):
            continue
        if label == "files":
            what = str(_("stored files"))
        else:
            app_model = label.split(".")
            try:
                model = apps.get_model(app_model[0], app_model[1])
                what = str(model._meta.verbose_name_plural)
            except LookupError:
                what = label
            if len(app_model) > 2:
                what = f"{what}: {app_model[2]}"
        for action, count in actions.items():
            rows.append(CountRow(what, str(ACTIONS.get(action, action)), count))
    return rows


@require_GET
@login_required
@never_cache
def household_erased(request: HttpRequest, pk: int) -> HttpResponse:
    household = access.get_for(request.user, _coordinated(request), action=Action.CHANGE, pk=pk)
    # On request, or by the retention period of inactive dossiers: either shows here.
    removal = (
        Removal.objects.filter(household_id=household.pk).order_by("-performed_at", "-pk").first()
    )
    if removal is None:
        raise Http404
    return render(
        request,
        "privacy/rights/erase_done.html",
        {"removal": removal, "counts": _count_rows(removal.details), "kept": erasure.KEPT},
    )
