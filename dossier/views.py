from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BoundField
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import access
from accounts import selectors as account_selectors
from accounts.access import Action
from accounts.roles import Role
from dossier import access_log, selectors, services
from dossier.access_log import access_logged
from dossier.forms import (
    ComponentForm,
    InviteForm,
    MeasureForm,
    SaveForm,
    SectionForm,
    StaffSaveForm,
    ValueCheckForm,
    section_form_class,
)
from dossier.models import (
    BuildingComponent,
    ComponentKind,
    Dossier,
    DossierMeasure,
    DossierSection,
    Section,
    Source,
    ValueRecord,
)
from dossier.services import COMPONENT_FIELDS, SECTION_FIELDS, SectionConflict

if TYPE_CHECKING:
    from accounts.models import User


@access_log.access_logged_list("dashboard")
@require_GET
@login_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    roles = access.roles_by_organisation(user)
    all_roles = frozenset().union(*roles.values()) if roles else frozenset()
    households = selectors.household_list(viewer=user)
    access_log.listed(request, shown := list(households[:10]), page="dashboard")
    return render(
        request,
        "dossier/dashboard.html",
        {
            "organisations": account_selectors.organisations_of(viewer=user),
            "summaries": selectors.initiative_summaries(viewer=user),
            "is_coach": Role.COACH in all_roles,
            "is_government": bool(all_roles & {Role.MUNICIPALITY_STAFF, Role.PROVINCE_ANALYST}),
            "is_resident": access.is_resident(user),
            "households": shown,
            "household_count": households.count(),
        },
    )


@access_log.access_logged_list("household_list")
@require_GET
@login_required
@never_cache
def household_list(request: HttpRequest) -> HttpResponse:
    households = list(selectors.household_list(viewer=request.user))
    access_log.listed(request, households, page="household_list")
    return render(request, "dossier/household_list.html", {"households": households})


@access_logged("household", subject="household")
@require_GET
@login_required
@never_cache
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = access.get_for(request.user, selectors.household_list(viewer=request.user), pk=pk)
    return render(
        request,
        "dossier/household_detail.html",
        {
            "household": household,
            "residents": household.residents.all(),
            "may_change": request.user.has_perm("dossier.change_household", household),
            # The initiative's coordinators handle a request for erasure (privacy/).
            "coordinates": household.initiative_id
            in access.organisations_with_role(request.user, [Role.COORDINATOR]),
            "viewed": (
                access_log.viewed(household)
                if access_log.may_see_views(request.user, household)
                else None
            ),
        },
    )


# --- The house dossier: overview, one page per topic, the coach's visit mode ---------

STEPS: tuple[str, ...] = tuple(Section.values)


def _dossier_for(request: HttpRequest, pk: int, action: str = Action.VIEW) -> Dossier:
    # Not selectors.dossier_page: saves need Action.CHANGE, and the topic pages need
    # neither the messages nor the photos it loads. The residents decide whether the
    # viewer sees the dossier as staff (access.is_staff_viewer).
    dossiers = selectors.dossier_base().prefetch_related("household__residents")
    return access.get_for(request.user, dossiers, pk=pk, action=action)


@dataclass
class RecordView:
    source: str
    source_label: str
    who: str
    detail: str
    when: datetime
    checked: bool
    value: str
    differs: bool


@dataclass
class FieldRow:
    field: BoundField
    key: str
    records: list[RecordView] = dc_field(default_factory=list)
    conflict: tuple[str, str] | None = None
    checkable: bool = False


@dataclass
class Group:
    title: str
    rows: list[FieldRow]
    advice: DossierMeasure | None = None
    description: str = ""


@dataclass
class SectionPage:
    dossier: Dossier
    section: str
    row: DossierSection
    staff: bool
    visit: bool
    save_form: SaveForm
    form: SectionForm | None = None
    component_forms: dict[str, ComponentForm] = dc_field(default_factory=dict)
    measure_forms: dict[int, MeasureForm] = dc_field(default_factory=dict)
    rows: list[FieldRow] = dc_field(default_factory=list)
    groups: list[Group] = dc_field(default_factory=list)
    conflict: SectionConflict | None = None
    saved_at: datetime | None = None
    # The topic's version right after this request's save: what was typed while the save
    # was on its way was typed against that state (static/js/autosave.js).
    saved_version: int | None = None
    error: str = ""
    progress: TopicProgress | None = None

    @property
    def label(self) -> str:
        return Section(self.section).label

    @property
    def step(self) -> int:
        return STEPS.index(self.section) + 1

    @property
    def previous(self) -> str | None:
        return STEPS[self.step - 2] if self.step > 1 else None

    @property
    def next(self) -> str | None:
        return STEPS[self.step] if self.step < len(STEPS) else None

    def forms(self) -> list[forms.Form]:
        return [
            self.save_form,
            *([self.form] if self.form else []),
            *self.component_forms.values(),
            *self.measure_forms.values(),
        ]

    @property
    def has_errors(self) -> bool:
        return any(f.is_bound and f.errors for f in self.forms())

    def is_valid(self) -> bool:
        # Every form validates, so every one shows its errors.
        results = [f.is_valid() for f in self.forms()]
        return all(results)


def _display(model_field: Any, text: str) -> str:
    if text == "":
        return str(_("Not answered yet"))
    choices = dict(model_field.choices or ())
    return str(choices.get(text, text))


def _records(dossier: Dossier) -> dict[str, list[ValueRecord]]:
    order = {Source.OPEN_DATA: 0, Source.RESIDENT: 1, Source.COACH: 2}
    by_key: dict[str, list[ValueRecord]] = {}
    for record in ValueRecord.objects.filter(dossier=dossier).select_related("recorded_by"):
        by_key.setdefault(record.field, []).append(record)
    for records in by_key.values():
        records.sort(key=lambda r: order.get(r.source, 9))
    return by_key


def _record_views(records: list[ValueRecord], model_field: Any, current: Any) -> list[RecordView]:
    now_text = services.as_text(current)
    return [
        RecordView(
            source=record.source,
            source_label=record.get_source_display(),
            who=str(record.recorded_by or ""),
            detail=record.source_detail,
            when=record.recorded_at,
            checked=record.checked_in_home,
            value=_display(model_field, record.value),
            differs=record.value != now_text,
        )
        for record in records
    ]


def _conflict_text(model_field: Any, pair: tuple[Any, Any]) -> tuple[str, str]:
    return (
        _display(model_field, services.as_text(pair[0])),
        _display(model_field, services.as_text(pair[1])),
    )


def _section_page(
    request: HttpRequest,
    dossier: Dossier,
    section: str,
    *,
    data: Any = None,
    conflict: SectionConflict | None = None,
    visit: bool = False,
    together: bool = False,
    records: dict[str, list[ValueRecord]] | None = None,
    row: DossierSection | None = None,
) -> SectionPage:
    """The forms of one topic, bound to `data` when given, with sources for staff.

    row: the topic's row when the caller has it already (a save returns it).
    """
    staff = access.is_staff_viewer(request.user, residents=dossier.household.residents.all())
    if row is None:
        row = dossier.sections.get(section=section)
    save_class = StaffSaveForm if staff else SaveForm
    initial = {
        "version": row.version,
        "notes": row.notes,
        "checked_in_home": row.checked_in_home,
        # The coach who fills in with the resident keeps that setting from save to save.
        "on_behalf_of_resident": together,
    }
    prefix = f"s-{section}"
    page = SectionPage(
        dossier=dossier,
        section=section,
        row=row,
        staff=staff,
        visit=visit,
        save_form=save_class(data, initial=initial, prefix=prefix),
        conflict=conflict,
    )
    differences = conflict.differences if conflict else {}
    if records is None:
        records = _records(dossier) if staff else {}

    def field_row(form: forms.ModelForm, name: str, key: str, checkable: bool) -> FieldRow:
        model_field = form._meta.model._meta.get_field(name)
        current = getattr(form.instance, name) if form.instance.pk else None
        pair = differences.get(key)
        return FieldRow(
            field=form[name],
            key=key,
            records=_record_views(records.get(key, []), model_field, current) if staff else [],
            conflict=_conflict_text(model_field, pair) if pair else None,
            checkable=staff and checkable,
        )

    fields = SECTION_FIELDS[section]
    if fields:
        page.form = section_form_class(section)(data, instance=dossier, prefix=prefix)
        page.rows = [field_row(page.form, name, name, True) for name in page.form.fields]
    if section == Section.INSULATION:
        for component in dossier.components.all():
            form = ComponentForm(data, instance=component, prefix=f"c-{component.kind}")
            page.component_forms[component.kind] = form
            page.groups.append(
                Group(
                    title=component.get_kind_display(),
                    rows=[
                        field_row(form, name, f"{component.kind}.{name}", True)
                        for name in form.fields
                    ],
                )
            )
    if section == Section.MEASURES:
        for measure in dossier.measures.select_related("measure_type"):
            form = MeasureForm(data, instance=measure, prefix=f"m-{measure.pk}", staff=staff)
            page.measure_forms[measure.pk] = form
            page.groups.append(
                Group(
                    title=measure.measure_type.name,
                    description=measure.measure_type.description,
                    rows=[
                        field_row(form, name, f"measure.{measure.pk}.{name}", False)
                        for name in form.fields
                    ],
                    advice=None if staff else measure,
                )
            )
    if conflict and "notes" in differences:
        page.error = str(_("The notes were changed by someone else as well."))
    return page


def _section_response(request: HttpRequest, page: SectionPage, status: int = 200) -> HttpResponse:
    context = {"page": page, "dossier": page.dossier, "steps": Section.choices}
    if request.htmx:
        return render(request, "dossier/partials/section_form.html", context, status=status)
    template = "dossier/dossier_visit.html" if page.visit else "dossier/dossier_step.html"
    if page.visit:
        context["pages"] = [page]
    return render(request, template, context, status=status)


def _answered(value: Any) -> bool:
    return value not in (None, "")


def _relevant(dossier: Dossier, name: str) -> bool:
    """A question that applies to this home (the apartment type only for apartments, ...)."""
    if name == "apartment_type":
        return dossier.dwelling_type == "apartment"
    if name in ("energy_label", "energy_label_date"):
        return dossier.energy_label_kind in ("registered", "indicative")
    if name in ("solar_panel_count", "solar_panel_wp", "solar_panel_year"):
        return dossier.has_solar_panels == "yes"
    if name == "electricity_returned_kwh_per_year":
        return dossier.has_solar_panels != "no"
    return True


@dataclass
class TopicProgress:
    section: str
    label: str
    answered: int
    total: int
    row: DossierSection

    @property
    def complete(self) -> bool:
        return self.answered >= self.total


def _progress(dossier: Dossier) -> list[TopicProgress]:
    rows = {row.section: row for row in dossier.sections.all()}
    result = []
    for section, label in Section.choices:
        if section == Section.INSULATION:
            values = [c.insulation for c in dossier.components.all()]
        elif section == Section.MEASURES:
            values = [m.status for m in dossier.measures.all()]
        else:
            values = [
                getattr(dossier, name)
                for name in SECTION_FIELDS[section]
                if _relevant(dossier, name)
            ]
        answered = sum(1 for value in values if _answered(value))
        result.append(TopicProgress(section, label, answered, len(values), rows[section]))
    return result


@access_logged("dossier")
@require_GET
@login_required
@never_cache
def dossier_overview(request: HttpRequest, pk: int) -> HttpResponse:
    dossier = _dossier_for(request, pk)
    progress = _progress(dossier)
    first_open = next((p.section for p in progress if not p.complete), STEPS[0])
    staff = access.is_staff_viewer(request.user, residents=dossier.household.residents.all())
    return render(
        request,
        "dossier/dossier_overview.html",
        {
            "dossier": dossier,
            "household": dossier.household,
            "progress": progress,
            "first_open": first_open,
            "staff": staff,
            "may_invite": staff and access.allows(request.user, dossier, Action.CHANGE),
            "invite_form": InviteForm(),
        },
    )


@access_logged("section")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def dossier_section(request: HttpRequest, pk: int, section: str) -> HttpResponse:
    if section not in STEPS:
        raise Http404
    write = request.method == "POST"
    dossier = _dossier_for(request, pk, Action.CHANGE if write else Action.VIEW)
    visit = request.POST.get("mode") == "visit" or request.GET.get("mode") == "visit"
    if not write:
        return _section_response(request, _section_page(request, dossier, section, visit=visit))

    # Without the sources: a valid save shows them as they are after it (read once, then).
    # Without the stored topic row either: a bound form validates the posted data alone,
    # the save reads the row under its lock, and this page is never shown (an invalid
    # save, a conflict and a valid save each answer with a page made afterwards).
    unread = DossierSection(dossier=dossier, section=section)
    page = _section_page(
        request, dossier, section, data=request.POST, visit=visit, records={}, row=unread
    )
    if not page.is_valid():
        # Validating wrote the typed values into `dossier`: show the sources against the
        # stored ones.
        fresh = _dossier_for(request, pk, Action.CHANGE)
        page = _section_page(request, fresh, section, data=request.POST, visit=visit)
        page.is_valid()
        return _section_response(request, page, status=422)
    meta = page.save_form.cleaned_data
    try:
        saved = services.section_save(
            dossier=dossier,
            section=section,
            version=meta["version"],
            actor=request.user,
            values=page.form.cleaned_data if page.form else None,
            components={k: f.cleaned_data for k, f in page.component_forms.items()} or None,
            measures={k: f.cleaned_data for k, f in page.measure_forms.items()} or None,
            notes=meta.get("notes") if page.staff else None,
            checked_in_home=meta.get("checked_in_home") if page.staff else None,
            on_behalf_of_resident=bool(meta.get("on_behalf_of_resident")),
        )
    except SectionConflict as conflict:
        # Keep what the editor typed, but under the version that is stored now, so a
        # second save is a deliberate choice for their own answers.
        data = request.POST.copy()
        data[page.save_form.add_prefix("version")] = str(conflict.section.version)
        fresh = _dossier_for(request, pk, Action.CHANGE)
        page = _section_page(request, fresh, section, data=data, conflict=conflict, visit=visit)
        page.is_valid()
        return _section_response(request, page, status=409)
    except ValidationError as error:
        fresh = _dossier_for(request, pk, Action.CHANGE)
        page = _section_page(request, fresh, section, data=request.POST, visit=visit)
        page.is_valid()
        page.error = " ".join(error.messages)
        return _section_response(request, page, status=422)

    go = request.POST.get("go", "")
    target = None
    if go == "finish":
        services.dossier_submit(dossier=dossier, actor=request.user)
        messages.success(request, _("Thank you! Your energy coach has received your answers."))
        target = reverse("dossier:dossier-overview", args=[pk])
    elif go in STEPS:
        target = reverse("dossier:dossier-section", args=[pk, go])
    if target:
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    if not request.htmx:
        messages.success(request, _("Your answers have been saved."))
        if visit:
            return redirect(reverse("dossier:dossier-visit", args=[pk]) + f"#topic-{section}")
        return redirect(request.get_full_path())
    # The topic as stored, from what the save returns: the access check, the household
    # and its residents are this request's already, and the save read the dossier under
    # the topic's lock. Validating wrote the typed values into `dossier`; the stored ones
    # replace them. The components and measures are read again by _section_page.
    for name in SECTION_FIELDS[section]:
        setattr(dossier, name, getattr(saved.dossier, name))
    together = bool(meta.get("on_behalf_of_resident"))
    page = _section_page(request, dossier, section, visit=visit, together=together, row=saved)
    page.saved_at = timezone.now()
    page.saved_version = saved.version
    return _section_response(request, page)


@access_logged("visit")
@require_GET
@login_required
@never_cache
def dossier_visit(request: HttpRequest, pk: int) -> HttpResponse:
    dossier = _dossier_for(request, pk)
    if not access.is_staff_viewer(request.user, residents=dossier.household.residents.all()):
        return redirect("dossier:dossier-overview", pk=pk)
    records = _records(dossier)
    pages = []
    for progress in _progress(dossier):
        page = _section_page(
            request, dossier, progress.section, visit=True, records=records, row=progress.row
        )
        page.progress = progress
        pages.append(page)
    return render(request, "dossier/dossier_visit.html", {"dossier": dossier, "pages": pages})


@access_logged("value_check")
@require_POST
@login_required
@never_cache
def dossier_value_check(request: HttpRequest, pk: int) -> HttpResponse:
    dossier = _dossier_for(request, pk, Action.CHANGE)
    if not access.is_staff_viewer(request.user, residents=dossier.household.residents.all()):
        raise PermissionDenied
    form = ValueCheckForm(request.POST)
    key = form.cleaned_data["key"] if form.is_valid() else ""
    kind, _dot, name = key.rpartition(".")
    if kind:
        valid = kind in ComponentKind.values and name in COMPONENT_FIELDS
        model_field = BuildingComponent._meta.get_field(name) if valid else None
    else:
        valid = any(name in fields for fields in SECTION_FIELDS.values())
        model_field = Dossier._meta.get_field(name) if valid else None
    if not valid:
        return HttpResponseBadRequest()
    services.value_check(dossier=dossier, key=key, actor=request.user)
    if not request.htmx:
        return redirect("dossier:dossier-visit", pk=pk)
    instance = dossier.components.get(kind=kind) if kind else Dossier.objects.get(pk=dossier.pk)
    row = FieldRow(
        field=None,  # type: ignore[arg-type]
        key=key,
        records=_record_views(_records(dossier).get(key, []), model_field, getattr(instance, name)),
        checkable=True,
    )
    return render(request, "dossier/partials/provenance.html", {"row": row, "dossier": dossier})


@require_POST
@login_required
@never_cache
def dossier_invite(request: HttpRequest, pk: int) -> HttpResponse:
    dossier = _dossier_for(request, pk, Action.CHANGE)
    if not access.is_staff_viewer(request.user, residents=dossier.household.residents.all()):
        raise PermissionDenied
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            services.resident_invite(
                dossier=dossier,
                email=form.cleaned_data["email"],
                actor=request.user,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("The invitation has been sent."))
    else:
        messages.error(request, _("Enter a valid e-mail address."))
    return redirect("dossier:dossier-overview", pk=pk)


def _invited_user(uidb64: str, token: str) -> User | None:
    try:
        user_id = urlsafe_base64_decode(uidb64).decode()
        user = get_user_model().objects.get(pk=user_id, is_active=True)
    except (ValueError, TypeError, OverflowError, get_user_model().DoesNotExist):
        return None
    return user if default_token_generator.check_token(user, token) else None


@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_post_parameters()
def invitation_accept(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = _invited_user(uidb64, token)
    if user is None:
        # 400 rather than 200: a used or made-up link is not a page to land on.
        return render(request, "accounts/invitation_invalid.html", status=400)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.resident_invitation_accept(user=user, password=form.cleaned_data["new_password1"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        dossier = Dossier.objects.visible_to(user).order_by("-invited_at", "-pk").first()
        if dossier is None:
            return redirect("dossier:dashboard")
        return redirect("dossier:dossier-section", pk=dossier.pk, section=STEPS[0])
    return render(request, "accounts/invitation_accept.html", {"form": form})
