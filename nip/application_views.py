"""The NIP application pages for municipality staff, and the coach's intake from a dossier.

Only staff of the municipality that runs a programme see its applications: anyone else
with a role gets a plain 403, another municipality's application is a 404. Every write
goes through nip.services with the `version` the page was opened with; a refusal is
shown next to the field it is about and changes nothing (422), and a save over someone
else's change (StaleApplication, 409) keeps what was typed under the version that is
stored now, so a second save is a deliberate choice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import access
from accounts.access import Action
from accounts.roles import Role
from dossier import storage
from dossier.access_log import access_logged, access_logged_list, listed
from dossier.dwellings import dwelling_at
from dossier.exchange_views import private_file_response
from dossier.models import Dossier, Dwelling, Household
from nip import services
from nip.forms import (
    ApplicationFilterForm,
    CompleteForm,
    DecisionForm,
    HouseholdIntakeForm,
    IntakeAnswersForm,
    IntakeEditForm,
    IntakeFigures,
    MeasureForm,
    NewApplicationForm,
    PaymentForm,
    RejectForm,
    SpeciesCheckForm,
    VersionedForm,
    WithdrawForm,
)
from nip.models import (
    GRANTED_STATUSES,
    MUNICIPAL_SOURCES,
    OPEN_STATUSES,
    Application,
    ApplicationStatus,
    ExecutedMeasure,
    FundingSource,
    IntakeChannel,
    Programme,
    WozLimit,
)
from nip.parameters import NipParameters, NoParameters, from_set, parameters_on
from nip.services import StaleApplication

if TYPE_CHECKING:
    from accounts.models import User

PAGE_SIZE = 50

CRITERION_LABELS: dict[str, Any] = {
    "owner_occupied": gettext_lazy("Owner-occupied"),
    "poorly_insulated": gettext_lazy("Poorly insulated"),
    "woz_below_limit": gettext_lazy("WOZ value at or under the limit"),
    "income_below_threshold": gettext_lazy("Income at or under the threshold"),
    "max_spend": gettext_lazy("Maximum per home"),
    "nip_contribution": gettext_lazy("NIP amount per home"),
}
# What a criterion still needs, in words.
MISSING_LABELS: dict[str, Any] = {
    "owner_occupied": gettext_lazy("whether the owner lives in the home"),
    "energy_label": gettext_lazy("the registered energy label"),
    "build_year": gettext_lazy("the build year"),
    "dwelling_type": gettext_lazy("the dwelling type"),
    "shell": gettext_lazy("the state of floor, facade, roof and windows"),
    "woz_below_limit": gettext_lazy("whether the WOZ value is at or under the limit"),
    "income_below_threshold": gettext_lazy("whether the income is at or under the threshold"),
    "parameters.max_spend_per_home_eur": gettext_lazy("the maximum per home in the NIP parameters"),
    "parameters.amount_per_home_eur": gettext_lazy("the NIP amount per home in the NIP parameters"),
}
# The download of a file: the kind in the address, the field it is stored in.
FILE_KINDS = ("natuurcheck", "factuur")
CONTENT_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg"}


def _staff_only(user: User) -> None:
    """These pages are for municipality staff; every other role gets a plain 403."""
    if not access.has_role(user, Role.MUNICIPALITY_STAFF):
        raise PermissionDenied


def _programme(request: HttpRequest, pk: int, action: str = Action.VIEW) -> Programme:
    _staff_only(request.user)
    return access.get_for(
        request.user, Programme.objects.select_related("municipality"), action=action, pk=pk
    )


def _application(request: HttpRequest, pk: int, action: str = Action.VIEW) -> Application:
    _staff_only(request.user)
    return access.get_for(
        request.user,
        Application.objects.select_related(
            "programme__municipality", "dwelling", "parameter_set", "intake_by", "decided_by"
        ),
        action=action,
        pk=pk,
    )


def _euro(value: Decimal) -> str:
    # A no-break space keeps the sign with its amount when a line wraps.
    return "€\u00a0" + formats.number_format(value, 2, force_grouping=True)


def _add_errors(
    form: forms.Form, error: ValidationError, rename: Callable[[str], str] = lambda name: name
) -> None:
    """The service's refusal next to the field it is about, or above the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            name = rename(field)
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


# ---------------------------------------------------------------------------------------
# The list


@access_logged_list("application_list")
@require_GET
@login_required
@never_cache
def application_list(request: HttpRequest, programme: int) -> HttpResponse:
    programme_obj = _programme(request, programme)
    form = ApplicationFilterForm(request.GET)
    filters = form.filters()
    applications = (
        Application.objects.visible_to(request.user)
        .filter(programme=programme_obj)
        .select_related("dwelling")
    )
    if filters["status"]:
        applications = applications.filter(status=filters["status"])
    if filters["group"]:
        applications = applications.filter(group=filters["group"])
    # The postcode is a search term, not personal data on its own; it stays in the query
    # string so a filtered list can be bookmarked and paged (Referrer-Policy: same-origin).
    if postcode := filters["postcode"]:
        if len(postcode) == 6:
            applications = applications.filter(dwelling__postcode=postcode)
        else:
            applications = applications.filter(dwelling__postcode__startswith=postcode)
    page = Paginator(applications, PAGE_SIZE).get_page(request.GET.get("page"))
    listed(request, page.object_list, page="application_list")
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "nip/application_list.html",
        {
            "programme": programme_obj,
            "form": form,
            "page": page,
            "applications": page.object_list,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
        },
    )


# ---------------------------------------------------------------------------------------
# Intake


def _parameters(day: dt.date) -> NipParameters:
    try:
        return parameters_on(day)[0]
    except NoParameters:
        return NipParameters(version="–", valid_from=day)


def _year(value: Decimal | None) -> int | None:
    return None if value is None else int(value)


def _figures(programme: Programme) -> IntakeFigures:
    """What the intake's explanations quote: this programme's limit, today's norms."""
    params = _parameters(timezone.localdate())
    average = programme.woz_limit == WozLimit.MUNICIPAL_AVERAGE
    return IntakeFigures(
        woz_limit=programme.woz_limit,
        woz_limit_eur=programme.municipal_average_woz_eur
        if average
        else params.get("nhg_limit_eur"),
        income_pct=params.get("income_threshold_pct"),
        norm_single_eur=params.get("income_norm.single_eur"),
        norm_couple_eur=params.get("income_norm.couple_eur"),
        poor_before_year=_year(params.get("estimate.poor_before_year")),
        insulated_from_year=_year(params.get("estimate.insulated_from_year")),
        parameter_version=params.version,
    )


def _dwelling_at(address: dict[str, Any], *, street: str, city: str) -> Dwelling:
    """The dwelling at this address, made if it is new; street and town filled in if blank.

    The one way every entry path finds it (dossier.dwellings). An intake records the
    home only: it never attaches to, renames or opens a household living there.
    """
    return dwelling_at(
        postcode=address["postcode"],
        house_number=address["house_number"],
        house_letter=address["house_letter"],
        addition=address["house_number_addition"],
        street=street,
        city=city,
    )


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def application_new(request: HttpRequest, programme: int) -> HttpResponse:
    programme_obj = _programme(request, programme, Action.CHANGE)
    form = NewApplicationForm(request.POST or None, figures=_figures(programme_obj))
    existing = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # One transaction: a refused intake leaves no new dwelling behind either.
            with transaction.atomic():
                dwelling = _dwelling_at(form.address(), street=data["street"], city=data["city"])
                application = services.application_open(
                    programme=programme_obj,
                    dwelling=dwelling,
                    channel=data["channel"],
                    by=request.user,
                    answers=form.answers(),
                )
        except ValidationError as error:
            form.add_error(None, error)
            if getattr(error, "code", None) == "duplicate":
                address = {f"dwelling__{k}": v for k, v in form.address().items()}
                existing = (
                    Application.objects.visible_to(request.user)
                    .filter(programme=programme_obj, status__in=OPEN_STATUSES, **address)
                    .first()
                )
        else:
            messages.success(request, _("The intake has been recorded and checked."))
            return redirect("nip:application-detail", pk=application.pk)
    return render(
        request,
        "nip/application_new.html",
        {"programme": programme_obj, "form": form, "existing": existing},
        status=422 if form.is_bound else 200,
    )


@access_logged("application", subject="application")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application(request, pk, Action.CHANGE)
    if application.status != ApplicationStatus.INTAKE:
        messages.info(request, _("The decision has been taken; the intake can no longer change."))
        return redirect("nip:application-detail", pk=application.pk)
    figures = _figures(application.programme)
    initial = {**IntakeAnswersForm.initial_from(application), "version": application.version}
    form = IntakeEditForm(request.POST or None, figures=figures, initial=initial)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                services.application_answers_save(
                    application=application,
                    answers=form.answers(),
                    version=form.cleaned_data["version"],
                )
            except StaleApplication as error:
                fresh = _application(request, pk, Action.CHANGE)
                form = _keep_input(
                    lambda data: IntakeEditForm(data, figures=figures), request, fresh, error
                )
                status = 409
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("The answers have been saved and checked again."))
                return redirect("nip:application-detail", pk=application.pk)
    return render(
        request,
        "nip/application_edit.html",
        {"application": application, "programme": application.programme, "form": form},
        status=status,
    )


def _keep_input(
    build: Callable[[Any], VersionedForm],
    request: HttpRequest,
    fresh: Application,
    error: StaleApplication,
) -> VersionedForm:
    """The form as it was posted, under the version stored now, with the reason."""
    data = request.POST.copy()
    data["version"] = str(fresh.version)
    form = build(data)
    form.is_valid()
    form.add_error(None, error)
    for name in request.FILES:
        if name in form.fields:
            form.add_error(name, _("Choose the file again: a browser cannot keep it."))
    return form


# ---------------------------------------------------------------------------------------
# One application


@dataclass(frozen=True)
class CriterionRow:
    code: str
    label: str
    result: str
    reason: str
    missing: list[str]
    estimate: bool


@dataclass(frozen=True)
class SourceRow:
    source: str
    label: str
    budget: Decimal
    committed: Decimal
    available: Decimal


def _criteria(application: Application) -> list[CriterionRow]:
    outcome = application.eligibility or {}
    estimated = bool(outcome.get("estimated"))
    return [
        CriterionRow(
            code=row["code"],
            label=str(CRITERION_LABELS.get(row["code"], row["code"])),
            result=row["result"],
            reason=row["reason"],
            missing=[str(MISSING_LABELS.get(name, name)) for name in row.get("missing", [])],
            estimate=estimated and row["code"] == "poorly_insulated",
        )
        for row in outcome.get("criteria", [])
    ]


def _max_per_home(application: Application) -> Decimal | None:
    if application.debt_relief or application.parameter_set is None:
        return None
    return from_set(application.parameter_set).get("max_spend_per_home_eur")


def _sources(application: Application) -> list[SourceRow]:
    room = services.budget_room(application.programme)
    return [
        SourceRow(
            source=source,
            label=FundingSource(source).label,
            budget=room[source].budget,
            committed=room[source].committed,
            available=room[source].available,
        )
        for source in MUNICIPAL_SOURCES
        if source in room
    ]


def _decision_form(
    application: Application, sources: list[SourceRow], data: Any = None
) -> DecisionForm:
    helps = [
        (
            row.source,
            _("%(left)s of %(budget)s left")
            % {"left": _euro(max(row.available, Decimal("0"))), "budget": _euro(row.budget)},
        )
        for row in sources
    ]
    initial: dict[str, Any] = {"version": application.version}
    if any(row.source == FundingSource.NIP for row in sources):
        contribution = application.eligibility.get("nip_contribution_eur")
        amount = application.programme.amount_per_home_eur or (
            Decimal(contribution) if contribution else None
        )
        if amount:
            initial[DecisionForm.field_name(FundingSource.NIP)] = amount
    return DecisionForm(data, sources=helps, initial=initial)


def _detail(
    request: HttpRequest, application: Application, *, status: int = 200, **bound: Any
) -> HttpResponse:
    """The application page; `bound` holds a form that was posted and refused."""
    version = {"version": application.version}
    commitments = list(application.commitments.all())
    measures = list(application.measures.select_related("measure_type"))
    sources = _sources(application) if application.status == ApplicationStatus.INTAKE else []
    maximum = _max_per_home(application)
    granted = application.status in GRANTED_STATUSES
    context = {
        "application": application,
        "programme": application.programme,
        "dwelling": application.dwelling,
        "criteria": _criteria(application),
        "max_per_home": maximum,
        "commitments": commitments,
        "payment_rows": [
            {"commitment": c, "left": c.amount_eur - c.spent_eur} for c in commitments
        ],
        "may_pay": granted and any(c.spent_eur < c.amount_eur for c in commitments),
        "spent_total": sum((c.spent_eur for c in commitments), Decimal("0")),
        "measures": measures,
        "sources": sources,
        "is_intake": application.status == ApplicationStatus.INTAKE,
        "is_granted": granted,
        "may_withdraw": application.status in (ApplicationStatus.INTAKE, ApplicationStatus.APPROVED)
        and not any(c.spent_eur for c in commitments),
        "may_complete": application.status == ApplicationStatus.APPROVED,
        "may_check_species": application.status in OPEN_STATUSES,
        "decision_form": bound.get("decision_form") or _decision_form(application, sources),
        "reject_form": bound.get("reject_form") or RejectForm(initial=version),
        "withdraw_form": bound.get("withdraw_form") or WithdrawForm(initial=version),
        "complete_form": bound.get("complete_form") or CompleteForm(initial=version),
        "payment_form": bound.get("payment_form")
        or PaymentForm(commitments=commitments, initial=version),
        "species_form": bound.get("species_form")
        or SpeciesCheckForm(initial={**version, "species_check": application.species_check}),
        "measure_form": bound.get("measure_form")
        or MeasureForm(initial={**version, "executed_on": timezone.localdate()}),
    }
    return render(request, "nip/application_detail.html", context, status=status)


@access_logged("application", subject="application")
@require_GET
@login_required
@never_cache
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _application(request, pk))


def _act(
    request: HttpRequest,
    pk: int,
    *,
    name: str,
    build: Callable[[Application, Any, Any], VersionedForm],
    call: Callable[[Application, VersionedForm], object],
    success: str,
    anchor: str,
    rename: Callable[[str], str] = lambda field: field,
) -> HttpResponse:
    """Post one of the application page's forms: PRG on success, the page again if not."""
    application = _application(request, pk, Action.CHANGE)
    form = build(application, request.POST, request.FILES)
    if form.is_valid():
        try:
            result = call(application, form)
        except StaleApplication as error:
            fresh = _application(request, pk, Action.CHANGE)
            kept = _keep_input(lambda data: build(fresh, data, None), request, fresh, error)
            return _detail(request, fresh, status=409, **{name: kept})
        except ValidationError as error:
            _add_errors(form, error, rename)
        else:
            _forget_on_rollback(result)
            messages.success(request, success)
            return redirect(reverse("nip:application-detail", args=[pk]) + anchor)
    # A refused write changed nothing: the application is as it was loaded.
    return _detail(request, application, status=422, **{name: form})


def _forget_on_rollback(result: object) -> None:
    """A new measure's invoice is deleted again if the request's transaction rolls back."""
    if isinstance(result, ExecutedMeasure) and result.invoice:
        storage.delete_on_rollback(result, result.invoice.name)


@access_logged("application", subject="application")
@require_POST
@login_required
def application_approve(request: HttpRequest, pk: int) -> HttpResponse:
    def call(application: Application, form: Any) -> Application:
        return services.application_approve(
            application=application,
            amounts={k: v for k, v in form.amounts().items() if v is not None},
            by=request.user,
            version=form.cleaned_data["version"],
            note=form.cleaned_data["note"],
        )

    return _act(
        request,
        pk,
        name="decision_form",
        build=lambda application, data, files: _decision_form(
            application, _sources(application), data
        ),
        call=call,
        success=_("The application has been granted; the money is committed."),
        anchor="#decision",
        rename=DecisionForm.field_name,
    )


@access_logged("application", subject="application")
@require_POST
@login_required
def application_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        name="reject_form",
        build=lambda application, data, files: RejectForm(data),
        call=lambda application, form: services.application_reject(
            application=application,
            by=request.user,
            version=form.cleaned_data["version"],
            note=form.cleaned_data["note"],
        ),
        success=_("The application has been rejected."),
        anchor="#decision",
    )


@access_logged("application", subject="application")
@require_POST
@login_required
def application_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        name="withdraw_form",
        build=lambda application, data, files: WithdrawForm(data),
        call=lambda application, form: services.application_withdraw(
            application=application, version=form.cleaned_data["version"]
        ),
        success=_("The application has been withdrawn; its money is back in the budget."),
        anchor="",
    )


@access_logged("application", subject="application")
@require_POST
@login_required
def application_payment(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        name="payment_form",
        build=lambda application, data, files: PaymentForm(
            data, commitments=application.commitments.all()
        ),
        call=lambda application, form: services.payment_record(
            application=application,
            source=form.cleaned_data["source"],
            amount=form.cleaned_data["amount"],
            version=form.cleaned_data["version"],
        ),
        success=_("The payment has been recorded."),
        anchor="#payments",
    )


@access_logged("application", subject="application")
@require_POST
@login_required
def application_species(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        name="species_form",
        build=lambda application, data, files: SpeciesCheckForm(data, files),
        call=lambda application, form: services.species_check_save(
            application=application,
            check=form.cleaned_data["species_check"],
            document=form.cleaned_data["species_document"],
            version=form.cleaned_data["version"],
        ),
        success=_("The nature-inclusive check has been recorded."),
        anchor="#species",
    )


@access_logged("application", subject="application")
@require_POST
@login_required
def application_measure(request: HttpRequest, pk: int) -> HttpResponse:
    def call(application: Application, form: Any) -> ExecutedMeasure:
        measure, check = services.measure_record(
            application=application,
            measure_type=form.cleaned_data["measure_type"],
            facts=form.facts(),
            by=request.user,
            version=form.cleaned_data["version"],
            invoice=form.cleaned_data["invoice"],
        )
        for note in check.notes:
            messages.warning(request, note)
        return measure

    return _act(
        request,
        pk,
        name="measure_form",
        build=lambda application, data, files: MeasureForm(data, files),
        call=call,
        success=_("The measure has been recorded; it meets the minimum requirements."),
        anchor="#measures",
    )


@access_logged("application", subject="application")
@require_POST
@login_required
def application_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        name="complete_form",
        build=lambda application, data, files: CompleteForm(data),
        call=lambda application, form: services.application_complete(
            application=application, version=form.cleaned_data["version"]
        ),
        success=_("The application is complete."),
        anchor="",
    )


@access_logged("application_file", subject="application_file")
@require_GET
@login_required
@never_cache
def application_file(request: HttpRequest, kind: str, pk: int) -> FileResponse:
    """The species document of an application, or the invoice of a measure."""
    _staff_only(request.user)
    if kind not in FILE_KINDS:
        raise Http404
    if kind == "natuurcheck":
        application = access.get_for(request.user, Application, pk=pk)
        field_file, filename = application.species_document, f"natuurcheck-{application.pk}"
    else:
        measure = access.get_for(request.user, ExecutedMeasure, pk=pk)
        field_file, filename = measure.invoice, f"factuur-{measure.application_id}-{measure.pk}"
    if not field_file:
        raise Http404
    extension = "." + field_file.name.rsplit(".", 1)[-1] if "." in field_file.name else ""
    # Ids only in the name: file names end up in download lists and mail attachments.
    return private_file_response(
        field_file,
        content_type=CONTENT_TYPES.get(extension, "application/octet-stream"),
        filename=f"{filename}{extension}",
        attachment=True,
    )


# ---------------------------------------------------------------------------------------
# The coach's intake from a house dossier


@dataclass(frozen=True)
class HouseholdNipPanel:
    """What a coach or coordinator sees of the NIP on a household's page.

    `applications` are read with a plain query by household, with only their status,
    group, date and programme: the money answers are for municipality staff alone.
    """

    household: Household
    applications: list[Application]
    # Open programmes for the home that have no running application of this household.
    programmes: list[Programme]
    form: HouseholdIntakeForm | None
    has_dossier: bool
    # Some programme of the home's municipality runs today.
    covered: bool


def open_programmes(dwelling: Dwelling, *, today: dt.date) -> list[Programme]:
    """The programmes running today of the municipality the dwelling lies in."""
    if not dwelling.municipality_code:
        return []
    return list(
        Programme.objects.filter(
            municipality__municipalities__code=dwelling.municipality_code,
            municipality__is_active=True,
            period_start__lte=today,
            period_end__gte=today,
        )
        .select_related("municipality")
        .distinct()
        .order_by("-tranche", "pk")
    )


def household_nip_panel(
    *, viewer: User, household: Household, data: Any = None, today: dt.date | None = None
) -> HouseholdNipPanel | None:
    """The panel for the household page; None for a viewer who may not send the dossier."""
    if not access.allows(viewer, household, Action.CHANGE) or not access.is_staff_viewer(
        viewer, residents=household.residents.all()
    ):
        return None
    applications = list(
        Application.objects.filter(household=household)
        .select_related("programme")
        .only("status", "group", "intake_at", "programme__name")
        .order_by("-intake_at", "-pk")
    )
    running = {a.programme_id for a in applications if a.status in OPEN_STATUSES}
    covering = open_programmes(household.dwelling, today=today or timezone.localdate())
    programmes = [p for p in covering if p.pk not in running]
    return HouseholdNipPanel(
        household=household,
        applications=applications,
        programmes=programmes,
        form=HouseholdIntakeForm(data, programmes=programmes) if programmes else None,
        has_dossier=Dossier.objects.filter(household=household).exists(),
        covered=bool(covering),
    )


@access_logged("nip_intake", subject="household")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def household_intake(request: HttpRequest, pk: int) -> HttpResponse:
    household = access.get_for(
        request.user,
        Household.objects.select_related("dwelling", "initiative").prefetch_related("residents"),
        action=Action.CHANGE,
        pk=pk,
    )
    panel = household_nip_panel(
        viewer=request.user,
        household=household,
        data=request.POST if request.method == "POST" else None,
    )
    if panel is None:
        # A resident of this home: the intake is the coach's or coordinator's to send.
        raise PermissionDenied
    if request.method == "GET":
        return render(request, "nip/application_household.html", {"nip_panel": panel})
    back = redirect("dossier:household-detail", pk=household.pk)
    if panel.form is None:
        messages.error(request, _("No NIP programme of this municipality is open for this home."))
        return back
    if not panel.form.is_valid():
        messages.error(request, _("Choose one of the programmes for this home."))
        return back
    if not panel.has_dossier:
        messages.error(request, _("This household has no house dossier yet."))
        return back
    programme = next(p for p in panel.programmes if p.pk == panel.form.cleaned_data["programme"])
    try:
        application = services.application_open_from_household(
            programme=programme,
            household=household,
            channel=IntakeChannel.COACH,
            by=request.user,
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("The dossier has been sent to %(programme)s. Status: %(status)s.")
            % {"programme": programme, "status": application.get_status_display()},
        )
    return back
