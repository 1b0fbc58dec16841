"""The sharing agreements, for the parties to them: the list, one agreement, its document.

An agreement is seen by the coordinators of its initiative and by the municipality staff
or province analysts of its recipient (SharingAgreement.access_policy); anyone else gets
a 404. The administrator records agreements in the admin; these pages only show them.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts import access
from accounts.roles import Role
from dataplatform.agreements import in_force
from dataplatform.models import LEVEL_ORDER, Level, SharingAgreement
from dossier.exchange_views import private_file_response

# The roles that can be a party to an agreement; for anyone else there is nothing here.
PARTY_ROLES = (Role.COORDINATOR, Role.MUNICIPALITY_STAFF, Role.PROVINCE_ANALYST)


def _agreements(request: HttpRequest) -> QuerySet[SharingAgreement]:
    if not access.has_role(request.user, *PARTY_ROLES):
        raise Http404
    return SharingAgreement.objects.visible_to(request.user).select_related(
        "initiative", "recipient"
    )


def _in_force_ids(agreements: QuerySet[SharingAgreement]) -> set[int]:
    return set(agreements.filter(in_force(timezone.localdate())).values_list("pk", flat=True))


@require_GET
@login_required
@never_cache
def agreement_list(request: HttpRequest) -> HttpResponse:
    agreements = _agreements(request)
    current = _in_force_ids(agreements)
    return render(
        request,
        "dataplatform/agreement_list.html",
        {"rows": [(agreement, agreement.pk in current) for agreement in agreements]},
    )


@require_GET
@login_required
@never_cache
def agreement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    agreements = _agreements(request)
    agreement = access.get_for(request.user, agreements, pk=pk)
    allowed = LEVEL_ORDER[LEVEL_ORDER.index(agreement.level) :]
    return render(
        request,
        "dataplatform/agreement_detail.html",
        {
            "agreement": agreement,
            "in_force": bool(_in_force_ids(agreements.filter(pk=agreement.pk))),
            "allowed_levels": [Level(level).label for level in allowed],
        },
    )


@require_GET
@login_required
@never_cache
def agreement_document(request: HttpRequest, pk: int) -> FileResponse:
    agreement = access.get_for(request.user, _agreements(request), pk=pk)
    if not agreement.document:
        raise Http404
    suffix = (
        agreement.document.name.rsplit(".", 1)[-1].lower()
        if "." in agreement.document.name
        else "pdf"
    )
    # The file name is made from the id only: what was uploaded may carry names.
    return private_file_response(
        agreement.document,
        content_type="application/pdf" if suffix == "pdf" else "application/octet-stream",
        filename=f"sharing-agreement-{agreement.pk}.{suffix}",
        attachment=True,
    )
