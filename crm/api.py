"""The CRM API under /api/v1/: cases, households, visits and tasks, for other systems.

Two kinds of caller. A person who is logged in (the session, with CSRF for writes)
reaches what `accounts.access` lets them: a coordinator everything of their initiative,
a coach the cases of the households assigned to them. Residents and government staff are
refused as a whole with 403, as on the CRM pages. An initiative's API key
(`accounts.api_tokens`) acts as a coordinator of that initiative and of nothing else;
a municipality's or a province's key is refused with 403 (it reads figures only,
dataplatform/api.py). Either way a row the caller may not see is a 404.

Every write goes through crm.services (or the sign-up in crm.signup), and its refusals
come back as 400 with messages per field. Where the schema describes the input in full
(moving a case, planning a visit, recording it as done), 400 means only input the schema
does not allow; a well-formed step that the case's or visit's state (or the clock) refuses
is a 409, with messages per field too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from auditlog.context import set_extra_data
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, api_tokens
from accounts.access import Action
from accounts.authentication import has_api_token
from accounts.models import ApiToken, Organisation
from accounts.roles import Role
from crm import pipeline, selectors, services
from crm import signup as signups
from crm.models import (
    VISIT_MINUTES_MAX,
    VISIT_MINUTES_MIN,
    Case,
    CaseStatus,
    HeardVia,
    Task,
    TaskKind,
    Visit,
    VisitStatus,
)
from dossier import addresses
from dossier.access_log import access_logged_api
from dossier.models import Household, YesNoUnknown

if TYPE_CHECKING:
    from django.db import models

    from accounts.models import User

# The steps a caller names in a transition; the others have calls of their own (assign,
# plan a visit, visit done or cancelled) or are not in the API (inviting the resident).
TRANSITION_ACTIONS: tuple[str, ...] = tuple(
    action for action in pipeline.ACTIONS if action not in services.OWN_SERVICE
)
POSTCODE_AREA = r"^[1-9][0-9]{3}$"
TASK_STATES = ("open", "done")

BAD_INPUT = OpenApiResponse(description="Bad input or a refused step: messages per field.")
NOT_ALLOWED = OpenApiResponse(description="Not for residents; some steps only for coordinators.")
NOT_FOUND = OpenApiResponse(description="No such row, or not one the caller may see.")
NO_LOGIN = OpenApiResponse(description="No login and no valid API key.")
# The largest id a database column holds: a larger one is bad input, not a server error.
ID_MAX = 2**63 - 1


# Who is asking -------------------------------------------------------------------------


class IsCrmStaffOrApiToken(BasePermission):
    """An initiative's API key, or a coordinator or coach who is logged in."""

    admits_api_tokens = True
    message = _("The CRM API is for coordinators, energy coaches and API keys of an initiative.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if has_api_token(request):
            # A municipality's or a province's key is for the published figures only.
            return api_tokens.reaches(request.auth, api_tokens.CRM_API)
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and access.organisations_with_role(user, {Role.COORDINATOR, Role.COACH})
        )


def _token(request: Request) -> ApiToken | None:
    return request.auth if has_api_token(request) else None


def _visible[M: models.Model](
    request: Request, queryset: QuerySet[M], action: str = Action.VIEW
) -> QuerySet[M]:
    """The rows the caller may act on: the access module for a person, the key's organisation
    (as its coordinator) for an API key."""
    token = _token(request)
    if token is not None:
        return api_tokens.visible_to_token(queryset, token, action)
    return access.visible_to(queryset, request.user, action)


def _get[M: models.Model](
    request: Request, queryset: QuerySet[M], pk: Any, action: str = Action.VIEW
) -> M:
    """One row the caller may act on, or 404: never reveal that it exists."""
    try:
        return _visible(request, queryset, action).get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def _coordinated(request: Request) -> list[int]:
    """The initiatives the caller coordinates: the key's own, or the person's."""
    token = _token(request)
    if token is not None:
        return [token.organisation_id]
    return selectors.coordinated_initiatives(viewer=request.user)


def _actor(request: Request) -> User | None:
    # An API key is no person. The timeline's "by" names who did a step; naming the
    # coordinator who happened to make the key would be untrue, and stays wrong after
    # they leave. None is what the services already record for what no person did (a
    # sign-up, an automatic mail); which key it was goes into the audit log (_acting).
    return None if _token(request) is not None else request.user


def _error_dict(error: DjangoValidationError, fields: Mapping[str, str]) -> dict[str, list[str]]:
    """A service's refusal as messages per input field: by its field, or by its code."""
    if hasattr(error, "error_dict"):
        return {
            ("non_field_errors" if key == NON_FIELD_ERRORS else key): messages
            for key, messages in error.message_dict.items()
        }
    result: dict[str, list[str]] = {}
    for item in error.error_list:
        key = fields.get(item.code or "", "non_field_errors")
        result.setdefault(key, []).extend(item.messages)
    return result


@contextlib.contextmanager
def _acting(request: Request, fields: Mapping[str, str] | None = None) -> Iterator[None]:
    """Around a service call: an API key's writes carry the key in the audit log, and a
    refusal (a Django ValidationError) becomes a 400 with messages per field."""
    token = _token(request)
    audit = (
        set_extra_data(context_data={"additional_data": {"api_token": token.pk}})
        if token is not None
        else contextlib.nullcontext()
    )
    try:
        with audit:
            yield
    except DjangoValidationError as error:
        raise serializers.ValidationError(_error_dict(error, fields or {})) from None


class Conflict(APIException):
    """A well-formed request the case's or visit's present state refuses: 409, with
    messages per field as a 400 has them."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This step is not possible now.")
    default_code = "conflict"


REFUSED_BY_STATE = OpenApiResponse(
    description=(
        "Well-formed, but refused by the present state of the case or visit (or by the "
        "clock): messages per field."
    )
)


@contextlib.contextmanager
def _acting_on_state(request: Request, fields: Mapping[str, str] | None = None) -> Iterator[None]:
    """As _acting, for a step whose input the schema describes in full: what the serializer
    let through is well formed, so the service's refusal is about the state (409)."""
    with _acting(request, fields):
        try:
            yield
        except DjangoValidationError as error:
            raise Conflict(_error_dict(error, fields or {})) from None


class CrmApi(APIView):
    permission_classes = [IsCrmStaffOrApiToken]


class CrmPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _page(view: APIView, request: Request, rows: QuerySet, output: type) -> Response:
    paginator = CrmPagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(output(page, many=True).data)


class PageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


# Output ---------------------------------------------------------------------------------


class CaseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    initiative = serializers.IntegerField(source="initiative_id")
    household = serializers.IntegerField(source="household_id")
    assigned_coach = serializers.IntegerField(
        source="household.assigned_coach_id",
        allow_null=True,
        help_text="The user id of the household's energy coach.",
    )
    status = serializers.ChoiceField(choices=CaseStatus.choices)
    next_actions = serializers.SerializerMethodField(
        help_text="The pipeline steps possible from this status, in pipeline order."
    )
    wants_help_with = serializers.CharField()
    heard_via = serializers.ChoiceField(choices=HeardVia.choices, allow_blank=True)
    is_member = serializers.ChoiceField(choices=YesNoUnknown.choices, allow_blank=True)
    contact_email = serializers.CharField()
    contact_phone = serializers.CharField()
    privacy_statement_version = serializers.CharField()
    privacy_accepted_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(
        help_text="When the case itself last changed (status, assignment)."
    )
    closed_at = serializers.DateTimeField(allow_null=True)
    at_known_address = serializers.BooleanField(
        source="household.at_known_address",
        help_text=(
            "Signed up where a household of the initiative already lives; a coordinator "
            "has not yet said whether it is that household, new occupants or a second "
            "household."
        ),
    )

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=pipeline.ACTIONS))
    )
    def get_next_actions(self, case: Case) -> list[str]:
        return list(pipeline.allowed_actions(case.status))


class DwellingAddressOutput(serializers.Serializer):
    street = serializers.CharField()
    house_number = serializers.IntegerField()
    house_letter = serializers.CharField()
    house_number_addition = serializers.CharField()
    postcode = serializers.CharField()
    city = serializers.CharField()
    municipality_code = serializers.CharField()


class OpenCaseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=CaseStatus.choices)
    contact_email = serializers.CharField()
    contact_phone = serializers.CharField()


class CrmHouseholdOutput(serializers.Serializer):
    id = serializers.IntegerField()
    initiative = serializers.IntegerField(source="initiative_id")
    name = serializers.CharField()
    address = DwellingAddressOutput(source="dwelling")
    assigned_coach = serializers.IntegerField(
        source="assigned_coach_id",
        allow_null=True,
        help_text="The user id of the household's energy coach.",
    )
    open_case = OpenCaseOutput(
        allow_null=True, help_text="The household's open case with its contact details."
    )
    created_at = serializers.DateTimeField()


class VisitOutput(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    coach = serializers.IntegerField(source="coach_id", allow_null=True)
    planned_start = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField()
    status = serializers.ChoiceField(choices=VisitStatus.choices)
    created_at = serializers.DateTimeField()


class TaskOutput(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    assignee = serializers.IntegerField(source="assignee_id", allow_null=True)
    kind = serializers.ChoiceField(choices=TaskKind.choices)
    title = serializers.CharField()
    due_date = serializers.DateField()
    done_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class CasePageOutput(PageOutput):
    results = CaseOutput(many=True)


class HouseholdPageOutput(PageOutput):
    results = CrmHouseholdOutput(many=True)


class VisitPageOutput(PageOutput):
    results = VisitOutput(many=True)


class TaskPageOutput(PageOutput):
    results = TaskOutput(many=True)


# DRF refuses NUL characters in every CharField; this says so in the schema (a pattern).
NO_NUL = RegexValidator(r"\A[^\x00]*\Z", message=_("Null characters are not allowed."))


class PlainTextField(serializers.CharField):
    """A CharField whose refusal of NUL characters the schema states."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ] + [NO_NUL]


class TextInput(serializers.Serializer):
    text = PlainTextField(
        required=False,
        allow_blank=True,
        default="",
        max_length=services.TEXT_MAX,
        help_text="Appears in the case's timeline with the step.",
    )


# Cases ----------------------------------------------------------------------------------


def _cases(request: Request) -> QuerySet[Case]:
    return _visible(request, Case.objects.select_related("household")).order_by("created_at", "pk")


@access_logged_api("crm_case_list", rows=("household", "household"))
class CaseListApi(CrmApi):
    class CaseListFilter(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=CaseStatus.choices, required=False, help_text="All statuses when left out."
        )
        updated_since = serializers.DateTimeField(
            required=False, help_text="Only cases that changed at or after this moment."
        )
        area = serializers.RegexField(
            POSTCODE_AREA,
            required=False,
            help_text="A postcode area: the four digits of the postcode, e.g. 3731.",
        )
        household = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)

    @extend_schema(
        operation_id="crm_case_list",
        tags=["cases"],
        parameters=[CaseListFilter],
        responses={401: NO_LOGIN, 200: CasePageOutput, 400: BAD_INPUT, 403: NOT_ALLOWED},
    )
    def get(self, request: Request) -> Response:
        filters = self.CaseListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        cases = _cases(request)
        if "status" in data:
            cases = cases.filter(status=data["status"])
        if "updated_since" in data:
            cases = cases.filter(updated_at__gte=data["updated_since"])
        if "area" in data:
            cases = cases.filter(household__dwelling__postcode__startswith=data["area"])
        if "household" in data:
            cases = cases.filter(household_id=data["household"])
        return _page(self, request, cases, CaseOutput)


@access_logged_api("crm_case_detail", "case")
class CaseDetailApi(CrmApi):
    @extend_schema(
        operation_id="crm_case_detail",
        tags=["cases"],
        responses={401: NO_LOGIN, 200: CaseOutput, 403: NOT_ALLOWED, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(CaseOutput(_get(request, _cases(request), pk)).data)


class CaseOpenApi(CrmApi):
    class CaseOpenInput(serializers.Serializer):
        initiative = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=ID_MAX,
            help_text=(
                "Only for a coordinator of several initiatives; an API key signs up with "
                "its own initiative."
            ),
        )
        name = serializers.CharField(max_length=150, help_text="The household's name.")
        postcode = serializers.CharField(max_length=8, help_text="e.g. 3731 AB")
        house_number = serializers.IntegerField(min_value=1, max_value=addresses.HOUSE_NUMBER_MAX)
        house_letter = serializers.CharField(
            max_length=1, required=False, allow_blank=True, default=""
        )
        addition = serializers.CharField(max_length=6, required=False, allow_blank=True, default="")
        street = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
        city = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
        contact_email = serializers.EmailField(required=False, allow_blank=True, default="")
        contact_phone = serializers.CharField(
            max_length=20, required=False, allow_blank=True, default=""
        )
        wants_help_with = serializers.CharField(
            max_length=2000, required=False, allow_blank=True, default=""
        )
        heard_via = serializers.ChoiceField(
            choices=HeardVia.choices, required=False, allow_blank=True, default=""
        )
        is_member = serializers.ChoiceField(
            choices=YesNoUnknown.choices, required=False, allow_blank=True, default=""
        )
        privacy_statement_version = serializers.CharField(
            max_length=40,
            help_text=(
                "The version of the initiative's privacy statement in force that the "
                "resident read and accepted."
            ),
        )

        def validate_postcode(self, value: str) -> str:
            value = addresses.normalise_postcode(value)
            addresses.validate_postcode(value)
            return value

        def validate_house_letter(self, value: str) -> str:
            value = value.strip().upper()
            addresses.validate_house_letter(value)
            return value

        def validate_addition(self, value: str) -> str:
            value = addresses.normalise_addition(value)
            addresses.validate_addition(value)
            return value

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            # As on the sign-up form: a case nobody can reach helps nobody.
            if not attrs.get("contact_email") and not attrs.get("contact_phone", "").strip():
                raise serializers.ValidationError(
                    _("Leave an e-mail address or a phone number, so that we can reach you.")
                )
            return attrs

    @extend_schema(
        operation_id="crm_case_open",
        tags=["cases"],
        description=(
            "A sign-up, as through the initiative's public form: finds or makes the "
            "dwelling and the household, and opens the household's case. A household "
            "has one open case: signing it up again (the same e-mail address, or phone "
            "without one) answers 200 with that case and changes nothing. Someone else "
            "signing up where a household of the initiative lives gets a household and "
            "case of their own, with `at_known_address` true, for a coordinator to "
            "resolve on the case page. A new case with an e-mail address gets the "
            "sign-up's confirmation mail. Coordinators and API keys only."
        ),
        request=CaseOpenInput,
        responses={
            401: NO_LOGIN,
            201: CaseOutput,
            200: OpenApiResponse(CaseOutput, description="The household's open case."),
            400: BAD_INPUT,
            403: NOT_ALLOWED,
        },
    )
    def post(self, request: Request) -> Response:
        coordinated = _coordinated(request)
        if not coordinated:
            raise PermissionDenied(_("Only a coordinator can sign a household up."))
        serializer = self.CaseOpenInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        initiative = self._initiative(request, data.pop("initiative", None), coordinated)
        page = signups.signup_page(slug=initiative.slug)
        version = data.pop("privacy_statement_version")
        if page is None or page.statement is None:
            raise serializers.ValidationError(
                {"privacy_statement_version": [_("This initiative has no privacy statement yet.")]}
            )
        if version != page.statement.version:
            # What the resident agreed to must be the text that is recorded with the case.
            raise serializers.ValidationError(
                {
                    "privacy_statement_version": [
                        _("The privacy statement in force is version %(version)s.")
                        % {"version": page.statement.version}
                    ]
                }
            )
        with _acting(request):
            case, created = signups.signup_open(page=page, **data)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(CaseOutput(case).data, status=code)

    def _initiative(
        self, request: Request, initiative_id: int | None, coordinated: list[int]
    ) -> Organisation:
        if initiative_id is None:
            if len(coordinated) != 1:
                raise serializers.ValidationError(
                    {"initiative": [_("Choose the initiative to sign up with.")]}
                )
            initiative_id = coordinated[0]
        if initiative_id not in coordinated:
            raise serializers.ValidationError(
                {"initiative": [_("Choose an initiative you coordinate.")]}
            )
        return _get(
            request, Organisation.objects.filter(kind=Organisation.Kind.INITIATIVE), initiative_id
        )


@access_logged_api("crm_case_transition", "case")
class CaseTransitionApi(CrmApi):
    class CaseTransitionInput(TextInput):
        action = serializers.ChoiceField(
            choices=TRANSITION_ACTIONS,
            help_text="The step; the case's `next_actions` lists those possible now.",
        )

    @extend_schema(
        operation_id="crm_case_transition",
        tags=["cases"],
        description=(
            "Move the case one step through the pipeline. Input the schema does not allow is "
            "refused with 400; a step that is not possible from the case's status with 409."
        ),
        request=CaseTransitionInput,
        responses={
            401: NO_LOGIN,
            200: CaseOutput,
            400: BAD_INPUT,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
            409: REFUSED_BY_STATE,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        case = _get(request, _cases(request), pk, Action.CHANGE)
        serializer = self.CaseTransitionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with _acting_on_state(request, {"transition": "action", "visit_planned": "action"}):
            case = services.case_transition(
                case=case, action=data["action"], actor=_actor(request), text=data["text"]
            )
        return Response(CaseOutput(case).data)


@access_logged_api("crm_case_assign", "case")
class CaseAssignApi(CrmApi):
    class CaseAssignInput(serializers.Serializer):
        coach = serializers.IntegerField(
            min_value=1,
            max_value=ID_MAX,
            help_text="The user id of an active energy coach of the initiative.",
        )

    @extend_schema(
        operation_id="crm_case_assign",
        tags=["cases"],
        description=(
            "Make a coach the case's (and the household's) energy coach; the coach gets an "
            "e-mail. Coordinators and API keys only."
        ),
        request=CaseAssignInput,
        responses={
            401: NO_LOGIN,
            200: CaseOutput,
            400: BAD_INPUT,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        case = _get(request, _cases(request), pk, Action.CHANGE)
        if case.initiative_id not in _coordinated(request):
            # The coach sees the case but does not choose who coaches it.
            raise PermissionDenied(_("Only a coordinator can assign an energy coach."))
        serializer = self.CaseAssignInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        coach = (
            selectors.initiative_people(initiative_ids=[case.initiative_id], roles=[Role.COACH])
            .filter(pk=serializer.validated_data["coach"])
            .first()
        )
        if coach is None:
            raise serializers.ValidationError(
                {"coach": [_("Choose an active coach of this initiative.")]}
            )
        with _acting(request, {"coach": "coach"}):
            case = services.case_assign(case=case, coach=coach, actor=_actor(request))
        return Response(CaseOutput(case).data)


# Households -----------------------------------------------------------------------------


def _households(request: Request) -> QuerySet[Household]:
    open_cases = _visible(
        request, Case.objects.exclude(status__in=pipeline.ENDED).order_by("created_at", "pk")
    )
    return (
        _visible(request, Household.objects.select_related("dwelling"))
        .prefetch_related(Prefetch("cases", queryset=open_cases, to_attr="open_cases"))
        .order_by("created_at", "pk")
    )


def _with_open_case(households: list[Household]) -> list[Household]:
    for household in households:
        found = household.open_cases  # type: ignore[attr-defined]
        household.open_case = found[0] if found else None  # type: ignore[attr-defined]
    return households


@access_logged_api("crm_household_list", rows=("household", "id"))
class HouseholdListApi(CrmApi):
    class HouseholdListFilter(serializers.Serializer):
        area = serializers.RegexField(
            POSTCODE_AREA,
            required=False,
            help_text="A postcode area: the four digits of the postcode, e.g. 3731.",
        )
        coach = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=ID_MAX,
            help_text="The user id of the assigned energy coach.",
        )

    @extend_schema(
        operation_id="crm_household_list",
        tags=["households"],
        parameters=[HouseholdListFilter],
        responses={401: NO_LOGIN, 200: HouseholdPageOutput, 400: BAD_INPUT, 403: NOT_ALLOWED},
    )
    def get(self, request: Request) -> Response:
        filters = self.HouseholdListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        households = _households(request)
        if "area" in data:
            households = households.filter(dwelling__postcode__startswith=data["area"])
        if "coach" in data:
            households = households.filter(assigned_coach_id=data["coach"])
        paginator = CrmPagination()
        page = paginator.paginate_queryset(households, request, view=self)
        rows = _with_open_case(list(page or []))
        return paginator.get_paginated_response(CrmHouseholdOutput(rows, many=True).data)


@access_logged_api("crm_household_detail", "household")
class HouseholdDetailApi(CrmApi):
    @extend_schema(
        operation_id="crm_household_detail",
        tags=["households"],
        responses={401: NO_LOGIN, 200: CrmHouseholdOutput, 403: NOT_ALLOWED, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        household = _get(request, _households(request), pk)
        return Response(CrmHouseholdOutput(_with_open_case([household])[0]).data)


# Visits ---------------------------------------------------------------------------------


def _visits(request: Request) -> QuerySet[Visit]:
    return _visible(request, Visit.objects.select_related("case__household")).order_by(
        "planned_start", "pk"
    )


@access_logged_api("crm_visit_list", rows=("visit", "id"))
class VisitListApi(CrmApi):
    class VisitListFilter(serializers.Serializer):
        status = serializers.ChoiceField(choices=VisitStatus.choices, required=False)
        date_from = serializers.DateField(
            required=False, help_text="Visits starting on or after this day."
        )
        date_to = serializers.DateField(
            required=False, help_text="Visits starting on or before this day."
        )
        case = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            start, end = attrs.get("date_from"), attrs.get("date_to")
            if start is not None and end is not None and start > end:
                raise serializers.ValidationError(
                    {"date_to": [_("The end date lies before the start date.")]}
                )
            return attrs

    @extend_schema(
        operation_id="crm_visit_list",
        tags=["visits"],
        parameters=[VisitListFilter],
        responses={401: NO_LOGIN, 200: VisitPageOutput, 400: BAD_INPUT, 403: NOT_ALLOWED},
    )
    def get(self, request: Request) -> Response:
        filters = self.VisitListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        visits = _visits(request)
        if "status" in data:
            visits = visits.filter(status=data["status"])
        # Days in the site's time zone, as the coach's calendar counts them.
        if "date_from" in data:
            visits = visits.filter(planned_start__date__gte=data["date_from"])
        if "date_to" in data:
            visits = visits.filter(planned_start__date__lte=data["date_to"])
        if "case" in data:
            visits = visits.filter(case_id=data["case"])
        return _page(self, request, visits, VisitOutput)


@access_logged_api("crm_visit_detail", "visit")
class VisitDetailApi(CrmApi):
    @extend_schema(
        operation_id="crm_visit_detail",
        tags=["visits"],
        responses={401: NO_LOGIN, 200: VisitOutput, 403: NOT_ALLOWED, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(VisitOutput(_get(request, _visits(request), pk)).data)


@access_logged_api("crm_visit_plan", "case")
class VisitPlanApi(CrmApi):
    class VisitPlanInput(serializers.Serializer):
        start = serializers.DateTimeField(help_text="In the future; with a time zone offset.")
        duration_minutes = serializers.IntegerField(
            min_value=VISIT_MINUTES_MIN, max_value=VISIT_MINUTES_MAX, default=90
        )

    @extend_schema(
        operation_id="crm_visit_plan",
        tags=["visits"],
        description=(
            "Plan the visit of the case's energy coach; the case moves to 'visit planned'. "
            "Input the schema does not allow is refused with 400. A case without a coach, a "
            "case that already has a planned visit and a start that is no longer in the "
            "future are refused with 409."
        ),
        request=VisitPlanInput,
        responses={
            401: NO_LOGIN,
            201: VisitOutput,
            400: BAD_INPUT,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
            409: REFUSED_BY_STATE,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        case = _get(
            request, _cases(request).select_related("household__assigned_coach"), pk, Action.CHANGE
        )
        serializer = self.VisitPlanInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        coach = case.household.assigned_coach
        if coach is None:
            raise Conflict({"non_field_errors": [_("Assign an energy coach first.")]})
        with _acting_on_state(request, {"start_past": "start", "duration": "duration_minutes"}):
            visit = services.visit_plan(
                case=case,
                coach=coach,
                start=data["start"],
                duration_minutes=data["duration_minutes"],
                actor=_actor(request),
            )
        return Response(VisitOutput(visit).data, status=status.HTTP_201_CREATED)


@access_logged_api("crm_visit_done", "visit")
class VisitDoneApi(CrmApi):
    @extend_schema(
        operation_id="crm_visit_done",
        tags=["visits"],
        description=(
            "The visit took place; the case moves to 'visit done'. Input the schema does not "
            "allow is refused with 400; a visit that has not started yet, or is no longer "
            "planned, with 409."
        ),
        request=TextInput,
        responses={
            401: NO_LOGIN,
            200: VisitOutput,
            400: BAD_INPUT,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
            409: REFUSED_BY_STATE,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        visit = _get(request, _visits(request), pk, Action.CHANGE)
        serializer = TextInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _acting_on_state(request):
            visit = services.visit_done(
                visit=visit, actor=_actor(request), text=serializer.validated_data["text"]
            )
        return Response(VisitOutput(visit).data)


@access_logged_api("crm_visit_cancel", "visit")
class VisitCancelApi(CrmApi):
    @extend_schema(
        operation_id="crm_visit_cancel",
        tags=["visits"],
        description="The visit will not take place; the case goes back to where it was.",
        request=TextInput,
        responses={
            401: NO_LOGIN,
            200: VisitOutput,
            400: BAD_INPUT,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        visit = _get(request, _visits(request), pk, Action.CHANGE)
        serializer = TextInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _acting(request):
            visit = services.visit_cancel(
                visit=visit, actor=_actor(request), text=serializer.validated_data["text"]
            )
        return Response(VisitOutput(visit).data)


# Tasks ----------------------------------------------------------------------------------


def _tasks(request: Request) -> QuerySet[Task]:
    return _visible(request, Task.objects.select_related("case")).order_by("due_date", "pk")


@access_logged_api("crm_task_list", rows=("task", "id"))
class TaskListApi(CrmApi):
    class TaskListFilter(serializers.Serializer):
        state = serializers.ChoiceField(
            choices=TASK_STATES, required=False, help_text="Open and done tasks when left out."
        )
        assignee = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=ID_MAX,
            help_text="The user id of the person it is for.",
        )
        case = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)

    @extend_schema(
        operation_id="crm_task_list",
        tags=["tasks"],
        parameters=[TaskListFilter],
        responses={401: NO_LOGIN, 200: TaskPageOutput, 400: BAD_INPUT, 403: NOT_ALLOWED},
    )
    def get(self, request: Request) -> Response:
        filters = self.TaskListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        tasks = _tasks(request)
        if "state" in data:
            tasks = tasks.filter(done_at__isnull=data["state"] == "open")
        if "assignee" in data:
            tasks = tasks.filter(assignee_id=data["assignee"])
        if "case" in data:
            tasks = tasks.filter(case_id=data["case"])
        return _page(self, request, tasks, TaskOutput)


@access_logged_api("crm_task_add", "case")
class TaskAddApi(CrmApi):
    class TaskAddInput(serializers.Serializer):
        title = serializers.CharField(max_length=200)
        due_date = serializers.DateField()
        assignee = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            max_value=ID_MAX,
            help_text="The user id of a coordinator or coach of the initiative; none: anyone.",
        )

    @extend_schema(
        operation_id="crm_task_add",
        tags=["tasks"],
        request=TaskAddInput,
        responses={
            401: NO_LOGIN,
            201: TaskOutput,
            400: BAD_INPUT,
            403: NOT_ALLOWED,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        case = _get(request, _cases(request), pk, Action.CHANGE)
        serializer = self.TaskAddInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assignee = None
        if data.get("assignee") is not None:
            assignee = (
                selectors.initiative_people(
                    initiative_ids=[case.initiative_id], roles=[Role.COORDINATOR, Role.COACH]
                )
                .filter(pk=data["assignee"])
                .first()
            )
            if assignee is None:
                raise serializers.ValidationError(
                    {"assignee": [_("Choose a coordinator or coach of this initiative.")]}
                )
        with _acting(request, {"title": "title", "assignee": "assignee"}):
            task = services.task_add(
                case=case,
                assignee=assignee,
                title=data["title"],
                due_date=data["due_date"],
                actor=_actor(request),
            )
        return Response(TaskOutput(task).data, status=status.HTTP_201_CREATED)


@access_logged_api("crm_task_done", "task")
class TaskDoneApi(CrmApi):
    @extend_schema(
        operation_id="crm_task_done",
        tags=["tasks"],
        description="Mark the task done; done twice is done once.",
        request=None,
        responses={401: NO_LOGIN, 200: TaskOutput, 403: NOT_ALLOWED, 404: NOT_FOUND},
    )
    def post(self, request: Request, pk: int) -> Response:
        task = _get(request, _tasks(request), pk, Action.CHANGE)
        with _acting(request):
            task = services.task_done(task=task, actor=_actor(request))
        return Response(TaskOutput(task).data)
