"""Downloads of the data platform: the published figures as CSV, and the address export.

The figures (one row per area, a column per measure) are for municipality staff and
province analysts, their own organisation's newest publication only, as in the API
(dataplatform.published). In the file a suppressed figure is "–" (an en dash), never 0
or empty; an empty cell means the publication has no figure there at all.

The address-level export is personal data: for municipality staff only, of the homes for
which both an agreement at address level and the household's consent exist
(dataplatform.address_export). Every download of it is recorded in the access log with
codes and counts only, and it is never cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import access, exports
from accounts.models import Organisation
from accounts.roles import Role
from dataplatform import address_export, published
from dataplatform.agreements import agreements_in_force
from dataplatform.models import Level
from dossier.access_log import access_logged_list, listed

if TYPE_CHECKING:
    from accounts.models import User

FORMATS = ("csv", "xlsx")


def _plain(message: str, status: int) -> HttpResponse:
    # A download link answers with a file or, when there is none to give, with why.
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@require_GET
@login_required
@transaction.non_atomic_requests
def aggregates_csv(request: HttpRequest, level: str) -> HttpResponse | StreamingHttpResponse:
    """The newest publication's figures at one level, one row per area, streamed.

    Outside the request transaction: the rows are read while the file streams, after the
    view has returned.
    """
    if not access.has_role(request.user, *published.READER_ROLES.values()):
        raise PermissionDenied
    try:
        figures = published.figure_request(
            candidates=published.reader_organisations(request.user),
            organisation_slug=request.GET.get("organisation"),
            level=level,
            municipality=request.GET.get("municipality"),
            on=timezone.localdate(),
        )
    except published.Unanswerable as refusal:
        return _plain(refusal.message, refusal.status)
    cells = published.cells(figures)
    measures = published.measures_of(cells)
    return exports.csv_response(
        published.csv_header(measures),
        published.area_rows(cells, measures),
        filename=published.csv_filename(figures),
    )


def _municipality_of(request: HttpRequest) -> Organisation:
    """The municipality whose address export the user takes: 403 for anyone who is staff
    of no municipality, 404 for a municipality that is not theirs."""
    user: User = request.user  # type: ignore[assignment]
    candidates = [
        org
        for org in published.reader_organisations(user)
        if org.kind == Organisation.Kind.MUNICIPALITY
    ]
    if not candidates or not access.has_role(user, Role.MUNICIPALITY_STAFF):
        raise PermissionDenied
    slug = request.POST.get("organisation") or request.GET.get("organisation")
    try:
        return published.choose_organisation(candidates, slug)
    except published.Unanswerable as refusal:
        if refusal.status == 404:
            raise Http404 from None
        # Several municipalities and none chosen: the first, by name; the page names it
        # and links to the others.
        return candidates[0]


@access_logged_list("address_export")
@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
@transaction.non_atomic_requests
def address_export_view(
    request: HttpRequest,
) -> HttpResponse | StreamingHttpResponse | FileResponse:
    """GET: what the export holds and how many homes qualify. POST, or GET with ?format=,
    downloads it as CSV or XLSX."""
    municipality = _municipality_of(request)
    today = timezone.localdate()
    households = address_export.address_households(recipient=municipality, on=today)
    fmt = request.POST.get("format") if request.method == "POST" else request.GET.get("format")
    if fmt is None:
        return _address_page(request, municipality, households=households.count())
    if fmt not in FORMATS:
        return _address_page(
            request,
            municipality,
            households=households.count(),
            error=_("Choose CSV or Excel (XLSX) as the file type."),
            status=400,
        )
    count = households.count()
    exports.export_log(
        actor=request.user,  # type: ignore[arg-type]
        subject=municipality,
        export="dataplatform.address_level",
        details={"format": fmt, "rows": count},
    )
    listed(request, households.values_list("pk", flat=True), page="address_export")
    header = address_export.header()
    rows = address_export.rows(households)
    filename = address_export.filename(municipality, today, fmt)
    if fmt == "csv":
        return exports.csv_response(header, rows, filename=filename)
    return exports.xlsx_response(header, rows, filename=filename, sheet=address_export.SHEET)


def _address_page(
    request: HttpRequest,
    municipality: Organisation,
    *,
    households: int,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    today = timezone.localdate()
    agreements = (
        agreements_in_force(recipient=municipality, level=Level.ADDRESS, on=today)
        .select_related("initiative")
        .order_by("initiative__name", "valid_from")
    )
    others = [
        org
        for org in published.reader_organisations(request.user)  # type: ignore[arg-type]
        if org.kind == Organisation.Kind.MUNICIPALITY and org.pk != municipality.pk
    ]
    return render(
        request,
        "dataplatform/address_export.html",
        {
            "municipality": municipality,
            "households": households,
            "agreements": agreements,
            "columns": address_export.header(),
            "others": others,
            "error": error,
        },
        status=status,
    )
