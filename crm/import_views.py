"""The import of an initiative's existing residents: upload, columns, check, confirm.

Only coordinators import, and only into an initiative they coordinate; anyone else with
a role in the CRM gets a 403. An upload is found by its random id, and only by the
coordinator who made it: for anyone else it does not exist (404). Nothing is written to
the database before the confirm step. Every POST redirects (PRG), except the requests
htmx makes for the next batch of an import, which get the progress panel back.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import Organisation
from crm import importing, selectors
from crm.import_forms import ImportMappingForm, ImportUploadForm

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    from accounts.models import User

PAGE_SIZE = 50
# The preview's filters: which rows to show.
SHOW_ALL = "all"
SHOW = {
    SHOW_ALL: None,
    "import": importing.Outcome.IMPORTED,
    "skipped": frozenset({importing.Outcome.OPEN_CASE, importing.Outcome.DUPLICATE}),
    "errors": frozenset({importing.Outcome.ERROR}),
}
# How many rows with errors the summary at the top of the preview links to by number.
SUMMARY_ROWS = 20


def _coordinated(user: User) -> list[Organisation]:
    """The initiatives the user coordinates; a 403 for everyone else, as the CRM does."""
    ids = selectors.coordinated_initiatives(viewer=user)
    initiatives = list(
        Organisation.objects.filter(pk__in=ids, kind=Organisation.Kind.INITIATIVE).order_by("name")
    )
    if not initiatives:
        raise PermissionDenied
    return initiatives


def _with_upload(
    view: Callable[[HttpRequest, importing.ImportUpload, Organisation], HttpResponse],
) -> Callable[[HttpRequest, uuid.UUID], HttpResponse]:
    """Load the upload of the URL for its own coordinator (else 404), or send back to the start
    when it is older than a day."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, upload: uuid.UUID) -> HttpResponse:
        initiatives = {i.pk: i for i in _coordinated(request.user)}
        found = importing.import_upload_get(upload_id=str(upload), user=request.user)
        if found is None or found.initiative_id not in initiatives:
            raise Http404
        if found.is_expired():
            importing.import_upload_delete(upload_id=found.id)
            messages.error(
                request,
                _(
                    "This file was uploaded more than a day ago and has been deleted. "
                    "Upload it again."
                ),
            )
            return redirect("crm:import-upload")
        return view(request, found, initiatives[found.initiative_id])

    return wrapper


def _context(upload: importing.ImportUpload, initiative: Organisation, **extra: Any) -> dict:
    return {"upload": upload, "initiative": initiative, **extra}


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def import_upload(request: HttpRequest) -> HttpResponse:
    initiatives = _coordinated(request.user)
    posted = request.POST.get("initiative", "")
    if posted and posted not in {str(initiative.pk) for initiative in initiatives}:
        # Another organisation's initiative is not one this user can see.
        raise Http404
    is_post = request.method == "POST"
    form = ImportUploadForm(
        request.POST if is_post else None,
        request.FILES if is_post else None,
        initiatives=initiatives,
    )
    if is_post and form.is_valid():
        chosen = form.cleaned_data.get("initiative", initiatives[0].pk)
        initiative = next(i for i in initiatives if i.pk == chosen)
        try:
            upload = importing.import_upload_start(
                upload=form.cleaned_data["file"], initiative=initiative, user=request.user
            )
        except ValidationError as error:
            form.add_error("file", error)
        else:
            return redirect("crm:import-mapping", upload=upload.id)
    return render(request, "crm/import_upload.html", {"form": form, "step": 1})


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
@_with_upload
def import_mapping(
    request: HttpRequest, upload: importing.ImportUpload, initiative: Organisation
) -> HttpResponse:
    if upload.state is not None:
        # The import has started (or finished): its columns are fixed.
        return redirect("crm:import-result", upload=upload.id)
    table = importing.import_table(upload)
    if table is None:
        raise Http404
    columns = importing.table_columns(table)
    guessed = upload.mapping is None
    form = ImportMappingForm(
        request.POST if request.method == "POST" else None,
        columns=columns,
        mapping=importing.mapping_guess(table) if guessed else upload.mapping or {},
    )
    if request.method == "POST" and form.is_valid():
        importing.import_mapping_save(upload=upload, mapping=form.mapping)
        return redirect("crm:import-preview", upload=upload.id)
    return render(
        request,
        "crm/import_mapping.html",
        _context(upload, initiative, form=form, columns=columns, guessed=guessed, step=2),
    )


@require_GET
@login_required
@never_cache
@_with_upload
def import_preview(
    request: HttpRequest, upload: importing.ImportUpload, initiative: Organisation
) -> HttpResponse:
    if upload.state is not None:
        return redirect("crm:import-result", upload=upload.id)
    if upload.mapping is None:
        return redirect("crm:import-mapping", upload=upload.id)
    preview = importing.import_preview(upload=upload)
    if preview is None:
        raise Http404
    show = request.GET.get("show", SHOW_ALL)
    wanted = SHOW.get(show)
    if show not in SHOW:
        show = SHOW_ALL
    rows = [row for row in preview.rows if wanted is None or row.outcome in wanted]
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = preview.counts
    error_rows = [row.row for row in preview.rows if row.outcome == importing.Outcome.ERROR]
    return render(
        request,
        "crm/import_preview.html",
        _context(
            upload,
            initiative,
            preview=preview,
            counts={
                "total": len(preview.rows),
                "to_import": preview.to_import,
                "new": counts[importing.Outcome.NEW],
                "existing": counts[importing.Outcome.EXISTING_HOUSEHOLD],
                "open_case": counts[importing.Outcome.OPEN_CASE],
                "duplicate": counts[importing.Outcome.DUPLICATE],
                "error": counts[importing.Outcome.ERROR],
            },
            error_rows=error_rows[:SUMMARY_ROWS],
            more_error_rows=len(error_rows) > SUMMARY_ROWS,
            page=page,
            show=show,
            batch=importing.BATCH,
            step=3,
        ),
    )


@require_POST
@login_required
@_with_upload
def import_confirm(
    request: HttpRequest, upload: importing.ImportUpload, initiative: Organisation
) -> HttpResponse:
    """Import the next batch; the progress page (or its panel, for htmx) goes on from there."""
    if upload.mapping is None:
        return redirect("crm:import-mapping", upload=upload.id)
    try:
        state = importing.residents_import(upload=upload, actor=request.user)
    except importing.UploadGone:
        messages.error(request, _("This file is no longer available. Upload it again."))
        return redirect("crm:import-upload")
    result_url = reverse("crm:import-result", kwargs={"upload": upload.id})
    if state.already_done:
        messages.info(request, _("This file had already been imported; nothing was added now."))
    elif state.done:
        messages.success(
            request,
            ngettext("%(count)s resident imported.", "%(count)s residents imported.", state.cases)
            % {"count": state.cases},
        )
    if not request.htmx:
        return redirect(result_url)
    if state.done:
        return HttpResponseClientRedirect(result_url)
    return render(
        request,
        "crm/import_progress.html",
        _context(upload, initiative, state=state, auto=True),
    )


@require_GET
@login_required
@never_cache
@_with_upload
def import_result(
    request: HttpRequest, upload: importing.ImportUpload, initiative: Organisation
) -> HttpResponse:
    """The result of a finished import, or the progress of one that is under way."""
    if upload.state is None:
        return redirect("crm:import-preview", upload=upload.id)
    return render(
        request,
        "crm/import_result.html",
        _context(
            upload,
            initiative,
            state=upload.state,
            # Batches follow each other by themselves, unless the coordinator paused.
            auto="pause" not in request.GET,
            step=4 if upload.state.done else 3,
        ),
    )


@require_POST
@login_required
@_with_upload
def import_cancel(
    request: HttpRequest, upload: importing.ImportUpload, initiative: Organisation
) -> HttpResponse:
    importing.import_upload_delete(upload_id=upload.id)
    if upload.state is None:
        messages.success(request, _("The uploaded file has been deleted. Nothing was imported."))
    elif not upload.state.done:
        messages.success(
            request,
            ngettext(
                "The uploaded file has been deleted. The %(count)s resident imported so far "
                "stays in the sign-ups.",
                "The uploaded file has been deleted. The %(count)s residents imported so far "
                "stay in the sign-ups.",
                upload.state.cases,
            )
            % {"count": upload.state.cases},
        )
    return redirect("crm:case-list")
