"""An initiative's retention periods, and the proof of what the nightly job removed.

Only the initiative's coordinators see these pages: someone who cannot see the
initiative gets a 404, a coach of it a 403 (as on the API key pages), and the pages of
a municipality or province do not exist (their periods are not theirs to set).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import access, exports
from accounts.models import Organisation
from accounts.roles import Role
from privacy import retention
from privacy.models import Removal
from privacy.register import Retention
from privacy.retention_forms import RetentionSettingsForm

# How many removals the page lists; the CSV file has them all.
LATEST_REMOVALS = 25


def _initiative(request: HttpRequest, slug: str) -> Organisation:
    organisation = access.get_for(request.user, Organisation, slug=slug)
    if organisation.kind != Organisation.Kind.INITIATIVE:
        raise Http404
    if organisation.pk not in access.organisations_with_role(request.user, [Role.COORDINATOR]):
        raise PermissionDenied
    return organisation


def _rule_label(rule: str) -> str:
    if rule == Removal.Reason.ERASURE:
        return str(Removal.Reason.ERASURE.label)
    try:
        return str(Retention(rule).label)
    except ValueError:
        return rule


@require_http_methods(["GET", "POST"])
@login_required
def retention_settings(request: HttpRequest, slug: str) -> HttpResponse:
    organisation = _initiative(request, slug)
    states = retention.retention_overview(organisation=organisation)
    data = request.POST if request.method == "POST" else None
    form = RetentionSettingsForm(data, states=states)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                changed = retention.retention_settings_save(
                    organisation=organisation, days=form.days(), actor=request.user
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if changed:
                    messages.success(request, _("The retention periods have been saved."))
                else:
                    messages.info(request, _("Nothing changed."))
                return redirect("privacy:retention-settings", slug=organisation.slug)
        status = 422
    removals = [
        (removal, _rule_label(removal.rule), retention.removal_summary(removal))
        for removal in retention.removal_list(organisation=organisation)[:LATEST_REMOVALS]
    ]
    return render(
        request,
        "privacy/retention/settings.html",
        {
            "organisation": organisation,
            "rows": [(state, form[state.period.category.value]) for state in states],
            "form": form,
            "removals": removals,
        },
        status=status,
    )


@require_GET
@login_required
@transaction.non_atomic_requests
def retention_removals_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    """Every removal of the initiative as a CSV file: when, why, by which rule, how many.

    Outside the request transaction, as the other exports: the rows are read while the
    file streams. The proof holds counts and ids only; the download is logged all the same.
    """
    organisation = _initiative(request, slug)
    removals = retention.removal_list(organisation=organisation)
    exports.export_log(
        actor=request.user,
        subject=organisation,
        export="privacy.removals",
        details={"rows": removals.count()},
    )
    header = [
        _("Performed at"),
        _("Reason"),
        _("Rule"),
        _("Household id"),
        _("Removed"),
        _("Removal id"),
    ]
    rows = (
        [
            removal.performed_at,
            removal.get_reason_display(),
            _rule_label(removal.rule),
            removal.household_id,
            ", ".join(f"{name}: {count}" for name, count in retention.removal_summary(removal)),
            removal.pk,
        ]
        for removal in removals.iterator()
    )
    filename = f"verwijderingen-{organisation.pk}-{timezone.localdate():%Y-%m-%d}.csv"
    return exports.csv_response(header, rows, filename=filename)
