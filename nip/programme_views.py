"""The NIP programme pages for municipality staff: the list, a programme's dashboard, its
setup with the budget per source, and its business cases.

Only municipality staff use these pages: anyone else gets a plain 403, and a programme
of another municipality is a 404 (access.get_for). Every POST redirects back (PRG); bad
input is shown again with its errors and changes nothing.

The setup and the business cases are edited as a whole page. The page carries a
fingerprint of what it showed; the save locks the programme row (as nip.services does
when it commits money), and if the stored state no longer matches the fingerprint, it
was changed in between: by the same form sent twice (a double click, a reload), which
is recognised because the page asks for exactly what is stored now and then changes
nothing, or by someone else (a second tab), which is refused with 409 and the page shown
again with what the editor typed, under the new fingerprint, beside what is stored now.
So nothing is duplicated and no one's save is silently overwritten.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import access
from accounts.access import Action
from accounts.models import Organisation
from accounts.roles import Role
from nip import selectors
from nip.dashboard_chart import BarChart, BarInput, GroupInput, bar_chart
from nip.models import BudgetLine, BusinessCase, BusinessCaseLine, Programme
from nip.programme_forms import (
    ProgrammeForm,
    budget_formset,
    case_lines_formset,
    cases_formset,
)

PROGRAMME_FIELDS = ProgrammeForm._meta.fields
BUDGET_FIELDS = ("source", "description", "amount_eur")
CASE_FIELDS = ("title", "note")
LINE_FIELDS = (
    "label",
    "homes",
    "amount_per_home_eur",
    "source",
    "option_group",
    "option_label",
)
STATE_FIELD = "state"


# Access ------------------------------------------------------------------------------------


def _staff_only(request: HttpRequest) -> None:
    # Roles that can never use these pages get a 403, not a 404: there is nothing of
    # theirs to hide, and the menu does not offer the page to them.
    if not access.has_role(request.user, Role.MUNICIPALITY_STAFF):
        raise PermissionDenied


def _programme(request: HttpRequest, pk: int, action: str = Action.VIEW) -> Programme:
    _staff_only(request)
    return access.get_for(
        request.user, Programme.objects.select_related("municipality"), action=action, pk=pk
    )


def _municipalities(request: HttpRequest) -> list[tuple[int, str]]:
    """The municipalities the viewer works for, to start a programme in."""
    ids = access.organisations_with_role(request.user, {Role.MUNICIPALITY_STAFF})
    return list(
        Organisation.objects.filter(
            pk__in=ids, kind=Organisation.Kind.MUNICIPALITY, is_active=True
        ).values_list("pk", "name")
    )


# Fingerprints of what a page showed ------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _fingerprint(state: Any) -> str:
    text = json.dumps(state, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _programme_state(programme: Programme, lines: Sequence[BudgetLine]) -> dict[str, Any]:
    return {
        "fields": {name: _plain(getattr(programme, name)) for name in PROGRAMME_FIELDS},
        "lines": [
            [line.pk, *(_plain(getattr(line, name)) for name in BUDGET_FIELDS)] for line in lines
        ],
    }


def _without_ids(state: dict[str, Any]) -> dict[str, Any]:
    """The state as the editor sees it: the same rows, whatever their ids and order."""
    return {**state, "lines": sorted(row[1:] for row in state["lines"])}


def _cases_state(cases: Sequence[BusinessCase]) -> list[Any]:
    return [
        [
            case.pk,
            *(getattr(case, name) for name in CASE_FIELDS),
            [
                [line.pk, *(_plain(getattr(line, name)) for name in LINE_FIELDS)]
                for line in case.lines.all()
            ],
        ]
        for case in cases
    ]


def _cases_without_ids(state: list[Any]) -> list[Any]:
    return [[*case[1:-1], [line[1:] for line in case[-1]]] for case in state]


class Conflict(Exception):
    """Someone else saved the page's subject since the editor opened it."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


# Writes ------------------------------------------------------------------------------------
# Service functions in all but place: nip/services.py belongs to the applications' pages.


def _sync_rows[M: models.Model](
    current: Sequence[M],
    rows: Sequence[dict[str, Any]],
    *,
    fields: Sequence[str],
    new: Callable[[], M],
    order_field: str | None = None,
) -> None:
    """Make `current` what `rows` ask for: update by id, create the new, delete the rest."""
    by_pk = {obj.pk: obj for obj in current}
    kept: set[int] = set()
    for order, row in enumerate(rows):
        obj = by_pk.get(row["id"]) if row["id"] not in kept else None
        if obj is None:
            obj = new()
        else:
            kept.add(obj.pk)
        values = {name: row[name] for name in fields}
        if order_field:
            values[order_field] = order
        changed = obj.pk is None
        for name, value in values.items():
            if getattr(obj, name) != value:
                setattr(obj, name, value)
                changed = True
        if changed:
            obj.save()
    for obj in current:
        if obj.pk not in kept:
            obj.delete()


def _check_budget_covers_commitments(
    *, viewer: Any, programme: Programme, lines: Iterable[dict[str, Any]]
) -> None:
    budget: dict[str, Decimal] = {}
    for line in lines:
        budget[line["source"]] = budget.get(line["source"], Decimal("0")) + line["amount_eur"]
    errors = []
    for source, (committed, _spent) in selectors.committed_by_source(
        viewer=viewer, programme=programme
    ).items():
        if budget.get(source, Decimal("0")) < committed:
            errors.append(
                ValidationError(
                    _(
                        "The budget from %(source)s would be less than the € %(committed)s "
                        "already committed from it to granted applications."
                    )
                    % {
                        "source": selectors.source_label(source),
                        "committed": number_format(committed, 2, force_grouping=True),
                    },
                    code="below_committed",
                )
            )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def programme_create(
    *, municipality_id: int, fields: dict[str, Any], lines: Sequence[dict[str, Any]]
) -> Programme:
    programme = Programme.objects.create(municipality_id=municipality_id, **fields)
    _sync_rows([], lines, fields=BUDGET_FIELDS, new=lambda: BudgetLine(programme=programme))
    return programme


@transaction.atomic
def programme_save(
    *,
    viewer: Any,
    programme: Programme,
    fields: dict[str, Any],
    lines: Sequence[dict[str, Any]],
    state: str,
) -> bool:
    """Save the programme and its whole budget; False when it was already so (a resend)."""
    # The same lock nip.services takes to commit money, so a budget cannot drop below
    # what an approval commits at the same moment.
    locked = Programme.objects.select_for_update().get(pk=programme.pk)
    current = list(BudgetLine.objects.filter(programme=locked).order_by("pk"))
    stored = _programme_state(locked, current)
    if state != _fingerprint(stored):
        wanted = {
            "fields": {name: _plain(fields[name]) for name in PROGRAMME_FIELDS},
            "lines": [[None, *(_plain(row[name]) for name in BUDGET_FIELDS)] for row in lines],
        }
        if _without_ids(wanted) == _without_ids(stored):
            return False
        raise Conflict(_fingerprint(stored))
    _check_budget_covers_commitments(viewer=viewer, programme=locked, lines=lines)
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.save()
    _sync_rows(current, lines, fields=BUDGET_FIELDS, new=lambda: BudgetLine(programme=locked))
    return True


@transaction.atomic
def business_cases_save(
    *,
    programme: Programme,
    cases: Sequence[tuple[dict[str, Any], Sequence[dict[str, Any]]]],
    state: str,
) -> bool:
    """Save all the programme's business cases and their lines; False when already so."""
    locked = Programme.objects.select_for_update().get(pk=programme.pk)
    current = list(
        BusinessCase.objects.filter(programme=locked)
        .order_by("sort_order", "pk")
        .prefetch_related("lines")
    )
    stored = _cases_state(current)
    if state != _fingerprint(stored):
        wanted = [
            [
                None,
                *(case[name] for name in CASE_FIELDS),
                [[None, *(_plain(line[name]) for name in LINE_FIELDS)] for line in lines],
            ]
            for case, lines in cases
        ]
        if _cases_without_ids(wanted) == _cases_without_ids(stored):
            return False
        raise Conflict(_fingerprint(stored))
    by_pk = {case.pk: case for case in current}
    kept: set[int] = set()
    for order, (data, lines) in enumerate(cases):
        case = by_pk.get(data["id"]) if data["id"] not in kept else None
        old_lines: list[BusinessCaseLine] = []
        if case is None:
            case = BusinessCase(programme=locked)
        else:
            kept.add(case.pk)
            old_lines = list(case.lines.all())
        if (case.title, case.note, case.sort_order) != (data["title"], data["note"], order):
            case.title, case.note, case.sort_order = data["title"], data["note"], order
            case.save()
        _sync_rows(
            old_lines,
            lines,
            fields=LINE_FIELDS,
            new=lambda case=case: BusinessCaseLine(business_case=case),
            order_field="sort_order",
        )
    for case in current:
        if case.pk not in kept:
            case.delete()
    return True


# The list ------------------------------------------------------------------------------------


@require_GET
@login_required
@never_cache
def programme_list(request: HttpRequest) -> HttpResponse:
    _staff_only(request)
    today = timezone.localdate()
    programmes = list(selectors.programme_list(viewer=request.user))
    return render(
        request,
        "nip/programme_list.html",
        {
            "programmes": [
                (programme, selectors.Deadline(date=programme.spend_deadline, today=today))
                for programme in programmes
            ],
            "several_municipalities": len({p.municipality_id for p in programmes}) > 1,
            "may_create": bool(_municipalities(request)),
        },
    )


# The setup: programme and budget -------------------------------------------------------------


def _add_errors(form: Any, error: ValidationError) -> None:
    for message in error.messages:
        form.add_error(None, message)


def _programme_values(form: ProgrammeForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in PROGRAMME_FIELDS}


def _budget_initial(lines: Iterable[BudgetLine]) -> list[dict[str, Any]]:
    return [
        {"id": line.pk, **{name: getattr(line, name) for name in BUDGET_FIELDS}} for line in lines
    ]


def _setup_page(
    request: HttpRequest,
    *,
    form: ProgrammeForm,
    budget: Any,
    programme: Programme | None,
    state: str = "",
    saved_lines: Sequence[BudgetLine] = (),
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "nip/programme_form.html",
        {
            "form": form,
            "budget": budget,
            "programme": programme,
            "state": state,
            "saved_lines": saved_lines,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def programme_new(request: HttpRequest) -> HttpResponse:
    _staff_only(request)
    municipalities = _municipalities(request)
    if not municipalities:
        raise PermissionDenied
    data = request.POST if request.method == "POST" else None
    form = ProgrammeForm(data, municipalities=municipalities)
    budget = budget_formset(data, new=True)
    if data is None:
        return _setup_page(request, form=form, budget=budget, programme=None)
    form_valid, budget_valid = form.is_valid(), budget.is_valid()
    if form.clash is not None and budget_valid and set(form.errors) == {"tranche"}:
        # Sent twice (a double click): the first request made exactly this programme.
        clash = form.clash
        wanted = {
            "fields": {
                **{name: _plain(form.cleaned_data.get(name)) for name in PROGRAMME_FIELDS},
                "tranche": clash.tranche,
            },
            "lines": [[None, *(_plain(r[n]) for n in BUDGET_FIELDS)] for r in budget.rows()],
        }
        stored = _programme_state(clash, list(clash.budget_lines.order_by("pk")))
        if _without_ids(wanted) == _without_ids(stored):
            messages.info(request, _("The programme was already saved like this."))
            return redirect("nip:programme-detail", clash.pk)
    if form_valid and budget_valid:
        try:
            programme = programme_create(
                municipality_id=form.municipality_id,
                fields=_programme_values(form),
                lines=budget.rows(),
            )
        except IntegrityError:
            form.add_error(
                "tranche", _("This municipality already has a programme for this tranche.")
            )
        else:
            messages.success(request, _("The programme is saved."))
            return redirect("nip:programme-detail", programme.pk)
    return _setup_page(request, form=form, budget=budget, programme=None, status=422)


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def programme_edit(request: HttpRequest, pk: int) -> HttpResponse:
    write = request.method == "POST"
    programme = _programme(request, pk, Action.CHANGE)
    lines = list(BudgetLine.objects.filter(programme=programme).order_by("pk"))
    state = _fingerprint(_programme_state(programme, lines))
    if not write:
        return _setup_page(
            request,
            form=ProgrammeForm(instance=programme),
            budget=budget_formset(initial=_budget_initial(lines)),
            programme=programme,
            state=state,
        )
    # A copy: a valid form writes its values into its instance, and the page shown again
    # after a refusal must still name the programme as it is stored.
    form = ProgrammeForm(request.POST, instance=copy.copy(programme))
    budget = budget_formset(request.POST)
    if form.is_valid() and budget.is_valid():
        try:
            changed = programme_save(
                viewer=request.user,
                programme=programme,
                fields=_programme_values(form),
                lines=budget.rows(),
                state=request.POST.get(STATE_FIELD, ""),
            )
        except Conflict as conflict:
            # Keep what the editor typed, under the state stored now, so saving again is
            # a deliberate choice for their own version.
            data = _with_state(request.POST, conflict.state)
            form = ProgrammeForm(data, instance=Programme.objects.get(pk=programme.pk))
            budget = budget_formset(data)
            form.is_valid() and budget.is_valid()
            form.add_error(
                None,
                _(
                    "Someone else changed this programme while you were editing it. Your "
                    "changes are not saved yet: check them against what is saved now "
                    "(below the budget) and save again."
                ),
            )
            saved = list(BudgetLine.objects.filter(programme=programme).order_by("pk"))
            return _setup_page(
                request,
                form=form,
                budget=budget,
                programme=programme,
                state=conflict.state,
                saved_lines=saved,
                status=409,
            )
        except ValidationError as error:
            _add_errors(form, error)
        except IntegrityError:
            form.add_error(
                "tranche", _("This municipality already has a programme for this tranche.")
            )
        else:
            if changed:
                messages.success(request, _("The programme is saved."))
            else:
                messages.info(request, _("The programme was already saved like this."))
            return redirect("nip:programme-detail", programme.pk)
    return _setup_page(
        request,
        form=form,
        budget=budget,
        programme=programme,
        state=request.POST.get(STATE_FIELD, "")[:64],
        status=422,
    )


def _with_state(data: QueryDict, state: str) -> QueryDict:
    data = data.copy()
    data[STATE_FIELD] = state
    return data


# The dashboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBlock:
    name: str
    title: str
    chart: BarChart
    # How the template writes the numbers: "eur", "m2" or "" (a count).
    unit: str
    summary: str


HOME_LABELS: dict[str, Any] = {
    "target": gettext_lazy("Target"),
    "granted": gettext_lazy("Granted (including completed)"),
    "completed": gettext_lazy("Completed"),
    "intake": gettext_lazy("Intake, not yet decided"),
}


def _euro(amount: Decimal) -> str:
    places = 0 if amount == amount.to_integral_value() else 2
    return "€ " + number_format(amount, places, force_grouping=True)


def _dashboard_charts(board: selectors.Dashboard) -> list[ChartBlock]:
    homes = board.homes
    home_values = {
        "target": homes.target,
        "granted": homes.granted,
        "completed": homes.completed,
        "intake": homes.intake,
    }
    charts = [
        ChartBlock(
            name="homes",
            title=_("Homes against the target"),
            chart=bar_chart(
                [
                    GroupInput(
                        str(HOME_LABELS[key]), [BarInput("", value, outline=key == "target")]
                    )
                    for key, value in home_values.items()
                ]
            ),
            unit="",
            summary=_("%(granted)s of the %(target)s homes granted; %(intake)s in intake.")
            % {"granted": homes.granted, "target": homes.target, "intake": homes.intake},
        )
    ]
    total = board.money.total
    charts.append(
        ChartBlock(
            name="money",
            title=_("Budget, committed and paid out per source"),
            chart=bar_chart(
                [
                    GroupInput(
                        capfirst(row.label),
                        [
                            BarInput(_("Budget"), row.budget, outline=True),
                            BarInput(_("Committed"), row.committed),
                            BarInput(_("Paid out"), row.spent),
                        ],
                    )
                    for row in board.money.rows
                ]
            ),
            unit="eur",
            summary=_(
                "In total %(committed)s of the %(budget)s budget is committed and "
                "%(spent)s paid out."
            )
            % {
                "committed": _euro(total.committed),
                "budget": _euro(total.budget),
                "spent": _euro(total.spent),
            },
        )
    )
    measured = [row for row in board.measures if row.m2 is not None]
    m2_total = board.measures_total.m2 or Decimal("0")
    charts.append(
        ChartBlock(
            name="measures",
            title=_("Square metres insulated per measure"),
            chart=bar_chart([GroupInput(row.name, [BarInput("", row.m2)]) for row in measured]),
            unit="m2",
            summary=_("%(m2)s m² in total, in %(count)s measures.")
            % {
                "m2": number_format(m2_total, 0, force_grouping=True),
                "count": board.measures_total.count,
            },
        )
    )
    return charts


@require_GET
@login_required
@never_cache
def programme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The programme's dashboard, which is its main page."""
    programme = _programme(request, pk)
    board = selectors.programme_dashboard(
        viewer=request.user, programme=programme, today=timezone.localdate()
    )
    return render(
        request,
        "nip/dashboard.html",
        {
            "programme": programme,
            "dashboard": board,
            "charts": {block.name: block for block in _dashboard_charts(board)},
        },
    )


# Business cases ------------------------------------------------------------------------------


@require_GET
@login_required
@never_cache
def business_case(request: HttpRequest, pk: int) -> HttpResponse:
    programme = _programme(request, pk)
    return render(
        request,
        "nip/business_case.html",
        {
            "programme": programme,
            "overview": selectors.business_cases(viewer=request.user, programme=programme),
        },
    )


@dataclass
class CaseBlock:
    form: Any
    lines: Any
    new: bool


def _case_blocks(
    programme: Programme, data: QueryDict | None, current: Sequence[BusinessCase]
) -> tuple[Any, list[CaseBlock]]:
    if data is None:
        cases = cases_formset(
            initial=[{"id": case.pk, "title": case.title, "note": case.note} for case in current]
        )
    else:
        cases = cases_formset(data)
    blocks = []
    for index, form in enumerate(cases.forms):
        new = index >= cases.initial_form_count()
        if data is None:
            initial = (
                []
                if new
                else [
                    {"id": line.pk, **{name: getattr(line, name) for name in LINE_FIELDS}}
                    for line in current[index].lines.all()
                ]
            )
            lines = case_lines_formset(initial=initial, case_prefix=form.prefix, new=new)
        else:
            lines = case_lines_formset(data, case_prefix=form.prefix, new=new)
        blocks.append(CaseBlock(form=form, lines=lines, new=new))
    return cases, blocks


def _cases_wanted(cases: Any, blocks: Sequence[CaseBlock]) -> list[tuple[dict, list[dict]]] | None:
    """The cases and lines the page asks for, or None after adding errors to the forms."""
    valid = cases.is_valid()
    wanted = []
    for block in blocks:
        if cases._should_delete_form(block.form):
            continue
        if not block.lines.is_valid():
            valid = False
            continue
        data = getattr(block.form, "cleaned_data", None) or {}
        lines = block.lines.rows()
        title = (data.get("title") or "").strip()
        if not title and (lines or data.get("note") or data.get("id")):
            block.form.add_error("title", _("Give the table a title."))
            valid = False
            continue
        if title:
            wanted.append(({"id": data.get("id"), "title": title, "note": data["note"]}, lines))
    return wanted if valid else None


def _current_cases(programme: Programme) -> list[BusinessCase]:
    return list(
        BusinessCase.objects.filter(programme=programme)
        .order_by("sort_order", "pk")
        .prefetch_related("lines")
    )


def _case_form_page(
    request: HttpRequest,
    programme: Programme,
    *,
    cases: Any,
    blocks: Sequence[CaseBlock],
    state: str,
    conflict: bool = False,
    status: int = 200,
) -> HttpResponse:
    saved = selectors.business_cases(viewer=request.user, programme=programme) if conflict else None
    return render(
        request,
        "nip/business_case_form.html",
        {
            "programme": programme,
            "cases": cases,
            "blocks": blocks,
            "state": state,
            "conflict": conflict,
            "saved": saved,
            "blocks_have_errors": any(
                block.form.errors or block.lines.total_error_count() for block in blocks
            ),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def business_case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    write = request.method == "POST"
    programme = _programme(request, pk, Action.CHANGE)
    current = _current_cases(programme)
    if not write:
        cases, blocks = _case_blocks(programme, None, current)
        return _case_form_page(
            request,
            programme,
            cases=cases,
            blocks=blocks,
            state=_fingerprint(_cases_state(current)),
        )
    cases, blocks = _case_blocks(programme, request.POST, current)
    wanted = _cases_wanted(cases, blocks)
    if wanted is None:
        return _case_form_page(
            request,
            programme,
            cases=cases,
            blocks=blocks,
            state=request.POST.get(STATE_FIELD, "")[:64],
            status=422,
        )
    try:
        changed = business_cases_save(
            programme=programme, cases=wanted, state=request.POST.get(STATE_FIELD, "")
        )
    except Conflict as conflict:
        data = _with_state(request.POST, conflict.state)
        cases, blocks = _case_blocks(programme, data, _current_cases(programme))
        _cases_wanted(cases, blocks)
        return _case_form_page(
            request,
            programme,
            cases=cases,
            blocks=blocks,
            state=conflict.state,
            conflict=True,
            status=409,
        )
    if changed:
        messages.success(request, _("The business case is saved."))
    else:
        messages.info(request, _("The business case was already saved like this."))
    return redirect("nip:business-case", programme.pk)
