"""The CRM pages: the coordinator's queue, a case with its timeline, visits and tasks.

Every POST redirects back (PRG) and reports a refusal as a message; a form with bad
input is shown again with its errors, and nothing changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import access
from accounts.access import Action
from accounts.models import Organisation, User
from accounts.roles import Role
from crm import calendar, pipeline, reminders, selectors, services
from crm.forms import (
    ALL_STATUSES,
    NO_COACH,
    AssignForm,
    BulkAssignForm,
    CoachProfileForm,
    FollowUpForm,
    KnownAddressForm,
    NoteForm,
    QueueFilterForm,
    TaskForm,
    TransitionForm,
    VisitPlanForm,
)
from crm.importing import IMPORT_ACTION
from crm.models import Case, CaseEvent, CoachProfile, EventKind, Task, Visit, VisitStatus
from dossier import advice_reports
from dossier.access_log import access_logged, access_logged_list, listed
from dossier.models import Dossier, MeasureStatus

if TYPE_CHECKING:
    from accounts.models import User

PAGE_SIZE = 25

KNOWN_ADDRESS_DONE: dict[str, Any] = {
    services.SAME_HOUSEHOLD: gettext_lazy(
        "The sign-up has joined the household living at this address."
    ),
    services.NEW_OCCUPANTS: gettext_lazy(
        "Recorded as new occupants: the previous household has ended."
    ),
    services.SECOND_HOUSEHOLD: gettext_lazy("Recorded as a second household at this address."),
}

# What the button of each pipeline step says; the steps with their own service
# (assigning, inviting, visits) have forms of their own on the page.
ACTION_LABELS: dict[str, Any] = {
    pipeline.MARK_DOSSIER_FILLED_IN: gettext_lazy("Mark the dossier as filled in"),
    pipeline.MARK_REPORT_SENT: gettext_lazy("Mark the report as sent"),
    pipeline.START_FOLLOW_UP: gettext_lazy("Start the follow-up"),
    pipeline.CLOSE: gettext_lazy("Close the case"),
    pipeline.WITHDRAW: gettext_lazy("Withdraw the case"),
    pipeline.REOPEN: gettext_lazy("Reopen the case"),
}
# How the timeline names what was done.
DONE_LABELS: dict[str, Any] = {
    "open": gettext_lazy("Signed up"),
    pipeline.ASSIGN_COACH: gettext_lazy("Energy coach assigned"),
    pipeline.INVITE_RESIDENT: gettext_lazy("Resident invited to fill in the dossier"),
    pipeline.MARK_DOSSIER_FILLED_IN: gettext_lazy("Dossier filled in"),
    pipeline.PLAN_VISIT: gettext_lazy("Visit planned"),
    pipeline.RECORD_VISIT_DONE: gettext_lazy("Visit done"),
    pipeline.CANCEL_VISIT: gettext_lazy("Visit cancelled"),
    pipeline.MARK_REPORT_SENT: gettext_lazy("Report sent"),
    pipeline.START_FOLLOW_UP: gettext_lazy("Follow-up started"),
    pipeline.CLOSE: gettext_lazy("Case closed"),
    pipeline.WITHDRAW: gettext_lazy("Case withdrawn"),
    pipeline.REOPEN: gettext_lazy("Case reopened"),
    services.MAIL_ASSIGNMENT: gettext_lazy("E-mail about the assignment to the energy coach"),
    "task_add": gettext_lazy("Task added"),
    "task_done": gettext_lazy("Task done"),
    IMPORT_ACTION: gettext_lazy("Imported from a file"),
    services.KNOWN_ADDRESS_ACTION: gettext_lazy("Sign-up at a known address resolved"),
    services.MAIL_REPORT: gettext_lazy("Advice report mailed to the resident"),
    reminders.MAIL_DOSSIER_REMINDER: gettext_lazy("Reminder to fill in the dossier mailed"),
    reminders.MAIL_FOLLOW_UP: gettext_lazy("Follow-up question mailed to the resident"),
    reminders.FOLLOW_UP_ANSWERED: gettext_lazy("Follow-up answered"),
    reminders.MEASURE_TAKEN: gettext_lazy("Measure taken"),
}


def _staff_only(user: User) -> None:
    """The CRM is for coordinators and coaches; residents and others get a plain 403."""
    if not access.organisations_with_role(user, {Role.COORDINATOR, Role.COACH}):
        raise PermissionDenied


def _messages_from(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


# The queue -----------------------------------------------------------------------------


def _queue_filters(form: QueueFilterForm, coaches: list[User]) -> selectors.QueueFilters:
    # Invalid fields are left out of cleaned_data: they do not narrow the queue.
    form.is_valid()
    data = form.cleaned_data
    status = data.get("status") or None
    coach_value = data.get("coach") or ""
    by_pk = {str(c.pk): c for c in coaches}
    return selectors.QueueFilters(
        status=pipeline.STATUSES if status == ALL_STATUSES else status,
        municipality=data.get("municipality") or "",
        area=data.get("area") or "",
        coach=by_pk.get(coach_value),
        without_coach=coach_value == NO_COACH,
        older_than_days=data.get("age"),
        search=data.get("q") or "",
    )


@access_logged_list("case_list")
@require_GET
@login_required
@never_cache
def case_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _staff_only(user)
    coordinated = selectors.coordinated_initiatives(viewer=user)
    coaches = (
        list(selectors.initiative_people(initiative_ids=coordinated, roles=[Role.COACH]))
        if coordinated
        else []
    )
    # The filters, search text included, are in the query string so a filtered queue can
    # be bookmarked and paged. The search text may be part of a name or address; it stays
    # within this site (Referrer-Policy: same-origin, the page is never cached) and only
    # staff of the initiative can run it. Nothing else about the resident is in the URL.
    form = QueueFilterForm(
        request.GET,
        coaches=coaches,
        municipalities=selectors.queue_municipalities(viewer=user),
    )
    cases = selectors.case_queue_filtered(viewer=user, filters=_queue_filters(form, coaches))
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    bulk_form = (
        BulkAssignForm(coaches=coaches, initial={"query": query.urlencode()})
        if coordinated
        else None
    )
    to_print = list(
        advice_reports.to_print(viewer=request.user)
        .select_related("dossier__household")
        .order_by("finished_at")
    )
    # The queue's page and the reports to print: the households the page names.
    listed(request, [*page.object_list, *(r.dossier.household for r in to_print)], page="case_list")
    return render(
        request,
        "crm/case_list.html",
        {
            "form": form,
            "page": page,
            "cases": page.object_list,
            "query": query.urlencode(),
            "bulk_form": bulk_form,
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
            "to_print": to_print,
        },
    )


@require_POST
@login_required
def case_bulk_assign(request: HttpRequest) -> HttpResponse:
    user = request.user
    coordinated = selectors.coordinated_initiatives(viewer=user)
    if not coordinated:
        raise PermissionDenied
    coaches = list(selectors.initiative_people(initiative_ids=coordinated, roles=[Role.COACH]))
    form = BulkAssignForm(request.POST, coaches=coaches)
    ids = [int(v) for v in request.POST.getlist("cases") if v.isdigit()]
    back = reverse("crm:case-list")
    # Only ever appended to the queue's own path: no open redirect.
    query = QueryDict(request.POST.get("query", "")[:500]).urlencode()
    if query:
        back = f"{back}?{query}"
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    if not ids:
        messages.error(request, _("Select at least one case."))
        return redirect(back)
    coach = next(c for c in coaches if str(c.pk) == form.cleaned_data["coach"])
    # Cases the viewer may not change, or does not coordinate, are not found: say nothing
    # about them beyond the count.
    cases = (
        Case.objects.visible_to(user, Action.CHANGE)
        .filter(pk__in=ids, initiative_id__in=coordinated)
        .select_related("household")
        .order_by("created_at", "pk")
    )
    assigned, refused = 0, []
    for case in cases:
        try:
            services.case_assign(case=case, coach=coach, actor=user)
        except ValidationError as error:
            refused.append(f"{case.household.name}: {' '.join(error.messages)}")
        else:
            assigned += 1
    missing = len(set(ids)) - assigned - len(refused)
    if assigned:
        messages.success(
            request,
            ngettext(
                "%(count)s case assigned to %(coach)s.",
                "%(count)s cases assigned to %(coach)s.",
                assigned,
            )
            % {"count": assigned, "coach": coach},
        )
    if refused:
        messages.error(request, _("Not assigned: %(cases)s") % {"cases": "; ".join(refused)})
    if missing > 0:
        messages.error(
            request,
            ngettext(
                "%(count)s case was not found or is not yours to assign.",
                "%(count)s cases were not found or are not yours to assign.",
                missing,
            )
            % {"count": missing},
        )
    return redirect(back)


# One case ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    event: CaseEvent
    title: str
    detail: str


def _timeline(case: Case, viewer: User) -> list[TimelineRow]:
    # Visits and tasks come from the case's prefetched lists, not one query per line.
    visits = {v.pk: v for v in case.visits.all()}
    tasks = {t.pk: t for t in case.tasks.all()}
    rows = []
    for event in selectors.case_timeline(case=case, viewer=viewer):
        title = str(DONE_LABELS.get(event.action, event.get_kind_display()))
        if event.kind in services.MANUAL_EVENT_KINDS and not event.action:
            title = event.get_kind_display()
        detail = ""
        if event.kind == EventKind.ASSIGNMENT and event.coach:
            detail = (
                _("%(coach)s, instead of %(previous)s")
                % {"coach": event.coach, "previous": event.previous_coach}
                if event.previous_coach
                else str(event.coach)
            )
        elif event.kind == EventKind.VISIT and event.visit_id in visits:
            start = timezone.localtime(visits[event.visit_id].planned_start)
            detail = _("Visit of %(date)s") % {"date": start.strftime("%d-%m-%Y %H:%M")}
        elif event.kind == EventKind.TASK and event.task_id in tasks:
            detail = tasks[event.task_id].title
        elif event.kind == EventKind.EMAIL_SENT and event.coach:
            detail = _("To %(person)s") % {"person": event.coach}
        if event.changed_status:
            status = _("Status: %(from)s → %(to)s") % {
                "from": event.get_from_status_display() or "–",
                "to": event.get_to_status_display(),
            }
            detail = f"{detail} · {status}" if detail else status
        rows.append(TimelineRow(event=event, title=title, detail=detail))
    # Newest first: what happened last is what the reader needs.
    rows.reverse()
    return rows


def _detail(request: HttpRequest, case: Case, **forms: Any) -> HttpResponse:
    user = request.user
    is_coordinator = case.initiative_id in selectors.coordinated_initiatives(viewer=user)
    may_change = access.allows(user, case, Action.CHANGE)
    allowed = pipeline.allowed_actions(case.status) if may_change else ()
    household = case.household
    workload, in_area = [], set()
    if is_coordinator and pipeline.ASSIGN_COACH in allowed:
        workload = selectors.coach_workload(initiative=case.initiative)
        in_area = {
            load.coach.pk
            for load in selectors.coaches_for_postcode(workload, household.dwelling.postcode)
        }
    staff = selectors.initiative_people(
        initiative_ids=[case.initiative_id], roles=[Role.COORDINATOR, Role.COACH]
    )
    visits = list(case.visits.all())
    known_address = None
    if is_coordinator and household.at_known_address:
        # Only the coordinator sees who lives there: the two households do not see each other.
        living = services.known_address_household(household=household)
        known_address = {
            "living": living,
            "living_case": Case.objects.filter(household=living).order_by("-created_at").first()
            if living is not None
            else None,
            "form": forms.get("known_form") or KnownAddressForm(),
        }
    context = {
        "case": case,
        "household": household,
        "dwelling": household.dwelling,
        "is_coordinator": is_coordinator,
        "may_change": may_change,
        "actions": [(a, ACTION_LABELS[a]) for a in allowed if a in ACTION_LABELS],
        "can_invite": pipeline.INVITE_RESIDENT in allowed,
        "can_plan": pipeline.PLAN_VISIT in allowed and household.assigned_coach_id is not None,
        "workload": [{"load": load, "in_area": load.coach.pk in in_area} for load in workload],
        "transition_form": TransitionForm(),
        "note_form": forms.get("note_form") or NoteForm(),
        "visit_form": forms.get("visit_form") or VisitPlanForm(),
        "task_form": forms.get("task_form") or TaskForm(staff=staff, today=timezone.localdate()),
        "visits": visits,
        "planned_visits": [v for v in visits if v.status == VisitStatus.PLANNED],
        "tasks": list(case.tasks.all()),
        "timeline": _timeline(case, user),
        "known_address": known_address,
    }
    return render(request, "crm/case_detail.html", context)


def _load_for_change(request: HttpRequest, pk: int) -> Case:
    case = selectors.case_page(viewer=request.user, pk=pk)
    if not access.allows(request.user, case, Action.CHANGE):
        raise PermissionDenied
    return case


@access_logged("case", subject="case")
@require_GET
@login_required
@never_cache
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, selectors.case_page(viewer=request.user, pk=pk))


@require_POST
@login_required
def case_assign(request: HttpRequest, pk: int) -> HttpResponse:
    case = _load_for_change(request, pk)
    if case.initiative_id not in selectors.coordinated_initiatives(viewer=request.user):
        # The coach sees the case but does not choose who coaches it.
        raise PermissionDenied
    coaches = list(
        selectors.initiative_people(initiative_ids=[case.initiative_id], roles=[Role.COACH])
    )
    form = AssignForm(request.POST, coaches=coaches)
    if not form.is_valid():
        messages.error(request, _("Choose an energy coach."))
        return redirect("crm:case-detail", pk=case.pk)
    coach = next(c for c in coaches if c.pk == form.cleaned_data["coach"])
    try:
        services.case_assign(case=case, coach=coach, actor=request.user)
    except ValidationError as error:
        _messages_from(request, error)
    else:
        messages.success(
            request, _("%(coach)s is now the energy coach of this case.") % {"coach": coach}
        )
    return redirect("crm:case-detail", pk=case.pk)


@access_logged("case", subject="case")
@require_POST
@login_required
def case_known_address(request: HttpRequest, pk: int) -> HttpResponse:
    """The coordinator says who signed up at an address where a household already lives."""
    case = _load_for_change(request, pk)
    if case.initiative_id not in selectors.coordinated_initiatives(viewer=request.user):
        raise PermissionDenied
    form = KnownAddressForm(request.POST)
    if not form.is_valid():
        return _detail(request, case, known_form=form)
    try:
        services.case_known_address_resolve(
            case=case,
            choice=form.cleaned_data["choice"],
            carry_over=form.cleaned_data["carry_over"],
            actor=request.user,
        )
    except ValidationError as error:
        _messages_from(request, error)
    else:
        messages.success(request, KNOWN_ADDRESS_DONE[form.cleaned_data["choice"]])
    return redirect("crm:case-detail", pk=case.pk)


@require_POST
@login_required
def case_transition(request: HttpRequest, pk: int) -> HttpResponse:
    case = _load_for_change(request, pk)
    form = TransitionForm(request.POST)
    action = request.POST.get("action", "")
    if not form.is_valid() or action not in ACTION_LABELS:
        messages.error(request, _("This step is not possible here."))
        return redirect("crm:case-detail", pk=case.pk)
    try:
        services.case_transition(
            case=case, action=action, actor=request.user, text=form.cleaned_data["text"]
        )
    except ValidationError as error:
        _messages_from(request, error)
    else:
        messages.success(
            request,
            _("Done: %(step)s. Status now: %(status)s.")
            % {"step": DONE_LABELS[action], "status": case.get_status_display()},
        )
    return redirect("crm:case-detail", pk=case.pk)


@require_POST
@login_required
def case_invite(request: HttpRequest, pk: int) -> HttpResponse:
    case = _load_for_change(request, pk)
    try:
        services.case_invite_resident(case=case, actor=request.user)
    except ValidationError as error:
        _messages_from(request, error)
    else:
        messages.success(
            request, _("The resident has been invited by e-mail to fill in the dossier.")
        )
    return redirect("crm:case-detail", pk=case.pk)


@access_logged("case", subject="case")
@require_POST
@login_required
def case_note_add(request: HttpRequest, pk: int) -> HttpResponse:
    case = _load_for_change(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.case_note_add(
                case=case,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                text=form.cleaned_data["text"],
            )
        except ValidationError as error:
            form.add_error("text", error)
        else:
            messages.success(request, _("Added to the timeline."))
            return redirect("crm:case-detail", pk=case.pk)
    return _detail(request, case, note_form=form)


@access_logged("case", subject="case")
@require_POST
@login_required
def visit_plan(request: HttpRequest, pk: int) -> HttpResponse:
    case = _load_for_change(request, pk)
    form = VisitPlanForm(request.POST)
    coach = case.household.assigned_coach
    if form.is_valid():
        if coach is None:
            form.add_error(None, _("Assign an energy coach first."))
        else:
            start = timezone.make_aware(
                dt.datetime.combine(form.cleaned_data["date"], form.cleaned_data["time"])
            )
            try:
                services.visit_plan(
                    case=case,
                    coach=coach,
                    start=start,
                    duration_minutes=form.cleaned_data["duration_minutes"],
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("The visit has been planned."))
                return redirect("crm:case-detail", pk=case.pk)
    return _detail(request, case, visit_form=form)


@access_logged("case", subject="case")
@require_POST
@login_required
def task_add(request: HttpRequest, pk: int) -> HttpResponse:
    case = _load_for_change(request, pk)
    staff = list(
        selectors.initiative_people(
            initiative_ids=[case.initiative_id], roles=[Role.COORDINATOR, Role.COACH]
        )
    )
    form = TaskForm(request.POST, staff=staff)
    if form.is_valid():
        assignee_pk = form.cleaned_data["assignee"]
        assignee = next((p for p in staff if p.pk == assignee_pk), None)
        try:
            services.task_add(
                case=case,
                assignee=assignee,
                title=form.cleaned_data["title"],
                due_date=form.cleaned_data["due_date"],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The task has been added."))
            return redirect("crm:case-detail", pk=case.pk)
    return _detail(request, case, task_form=form)


@require_POST
@login_required
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    task = access.get_for(
        request.user, Task.objects.select_related("case"), action=Action.CHANGE, pk=pk
    )
    services.task_done(task=task, actor=request.user)
    messages.success(request, _("The task is done."))
    return redirect("crm:case-detail", pk=task.case_id)


def _visit_for_change(request: HttpRequest, pk: int) -> Visit:
    return access.get_for(
        request.user,
        Visit.objects.select_related("case__household"),
        action=Action.CHANGE,
        pk=pk,
    )


@require_POST
@login_required
def visit_done(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit_for_change(request, pk)
    try:
        services.visit_done(visit=visit, actor=request.user)
    except ValidationError as error:
        _messages_from(request, error)
    else:
        messages.success(request, _("The visit is recorded as done."))
    return redirect("crm:case-detail", pk=visit.case_id)


@require_POST
@login_required
def visit_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit_for_change(request, pk)
    try:
        services.visit_cancel(visit=visit, actor=request.user)
    except ValidationError as error:
        _messages_from(request, error)
    else:
        messages.success(request, _("The visit has been cancelled."))
    return redirect("crm:case-detail", pk=visit.case_id)


# Visits and their calendar files ---------------------------------------------------------


@access_logged_list("visit_list")
@require_GET
@login_required
@never_cache
def visit_list(request: HttpRequest) -> HttpResponse:
    _staff_only(request.user)
    visits = list(selectors.visit_list_upcoming(viewer=request.user))
    to_plan = list(selectors.cases_to_plan(viewer=request.user))
    listed(request, [*(visit.case for visit in visits), *to_plan], page="visit_list")
    return render(
        request,
        "crm/visit_list.html",
        {
            "visits": visits,
            "to_plan": to_plan,
            "show_coach": bool(selectors.coordinated_initiatives(viewer=request.user)),
        },
    )


@access_logged("visit_calendar", subject="visit")
@require_GET
@login_required
def visit_ics(request: HttpRequest, pk: int) -> HttpResponse:
    visit = access.get_for(
        request.user,
        Visit.objects.select_related("case__household__dwelling"),
        pk=pk,
    )
    response = HttpResponse(
        calendar.visit_calendar(visit), content_type="text/calendar; charset=utf-8"
    )
    # The file holds an address: it stays out of shared caches and off the disk of proxies.
    response["Cache-Control"] = "private, no-store"
    # Ids only in the name: file names end up in download lists and mail attachments.
    response["Content-Disposition"] = (
        f'attachment; filename="bezoek-{visit.case_id}-{visit.pk}.ics"'
    )
    return response


# The follow-up: which measures the resident took ------------------------------------------


@access_logged("follow_up")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    """The follow-up's question, for the resident (from the mail) or the coach (by phone)."""
    dossier = access.get_for(
        request.user,
        Dossier.objects.select_related("household__dwelling"),
        pk=pk,
        action=Action.CHANGE,
    )
    form = FollowUpForm(
        request.POST or None, measures=reminders.follow_up_measures(dossier=dossier)
    )
    if request.method == "POST" and form.is_valid():
        taken = reminders.follow_up_record(dossier=dossier, taken=form.taken(), actor=request.user)
        if taken:
            messages.success(
                request,
                ngettext(
                    "Thank you! The measure is marked as done in the dossier.",
                    "Thank you! The %(count)s measures are marked as done in the dossier.",
                    len(taken),
                )
                % {"count": len(taken)},
            )
        else:
            messages.success(request, _("Thank you for letting us know."))
        return redirect("dossier:dossier-overview", pk=dossier.pk)
    done = dossier.measures.select_related("measure_type").filter(status=MeasureStatus.DONE)
    return render(
        request,
        "crm/follow_up.html",
        {"dossier": dossier, "form": form, "done": done.order_by("measure_type__sort_order")},
    )


# Coach profiles ------------------------------------------------------------------------


def _coordinated(request: HttpRequest, pk: int) -> Organisation:
    """The initiative, if the viewer coordinates it: 403 for who coordinates none, else 404."""
    coordinated = selectors.coordinated_initiatives(viewer=request.user)
    if not coordinated:
        raise PermissionDenied
    if pk not in coordinated:
        raise Http404
    return Organisation.objects.get(pk=pk)


@require_GET
@login_required
@never_cache
def coach_list(request: HttpRequest) -> HttpResponse:
    """The coaches of each initiative the viewer coordinates, with their work and areas."""
    initiatives = selectors.coordinated_initiatives(viewer=request.user)
    if not initiatives:
        raise PermissionDenied
    groups = [
        (initiative, selectors.coach_workload(initiative=initiative))
        for initiative in Organisation.objects.filter(pk__in=initiatives).order_by("name")
    ]
    return render(request, "crm/coach_list.html", {"groups": groups})


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def coach_profile(request: HttpRequest, initiative: int, pk: int) -> HttpResponse:
    organisation = _coordinated(request, initiative)
    coach = get_object_or_404(
        User.objects.filter(
            memberships__organisation=organisation,
            memberships__role=Role.COACH,
            memberships__is_active=True,
        ).distinct(),
        pk=pk,
    )
    profile = CoachProfile.objects.filter(user=coach).first()
    initial = (
        {
            "areas": ", ".join(profile.area_list),
            "max_visits_per_week": profile.max_visits_per_week,
            "is_active": profile.is_active,
        }
        if profile
        else None
    )
    form = CoachProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.coach_profile_save(
                initiative=organisation, coach=coach, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error)
        else:
            messages.success(request, _("The profile of %(coach)s is saved.") % {"coach": coach})
            return redirect("crm:coach-list")
    return render(
        request,
        "crm/coach_profile.html",
        {"form": form, "coach": coach, "initiative": organisation},
    )
