"""The NIP API under /api/v1/nip/: the eligibility check for a home described by answers.

For municipality staff, coordinators and energy coaches, who check a home before (or
without) an intake. It reads no organisation's data and stores nothing: answers in, the
group and the reason for every criterion out, by the NIP parameters in force on the date
asked for. Residents and province analysts are refused with 403, and so are API keys:
keys are for the CRM API and the published figures only (accounts/authentication.py).
Reasons come in the request's language, as LocaleMiddleware chose it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access
from accounts.roles import Role
from dossier.models import DwellingType, EnergyLabel
from nip import rules
from nip.models import Group, ShellState
from nip.parameters import NoParameters, parameters_on

STAFF_ROLES = (Role.MUNICIPALITY_STAFF, Role.COORDINATOR, Role.COACH)
RESULTS = ("pass", "fail", "unknown")
CRITERIA = (
    "owner_occupied",
    "poorly_insulated",
    "woz_below_limit",
    "income_below_threshold",
    "max_spend",
    "nip_contribution",
)


class IsNipStaff(BasePermission):
    """A person with a staff role: municipality staff, a coordinator or an energy coach."""

    message = _(
        "The NIP eligibility check is for municipality staff, coordinators and energy coaches."
    )

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and access.has_role(user, *STAFF_ROLES))


class StrictInput(serializers.Serializer):
    """Refuses keys it does not know: a misspelt answer would otherwise count as unknown."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            message = _("This is not one of the answers this check takes.")
            unknown = {str(key): [message] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class EnergyLabelInput(serializers.ChoiceField):
    """A registered label, in upper or lower case; empty or null when there is none."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=EnergyLabel.choices, allow_null=True, **kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if isinstance(data, str) and not data.strip():
            return True, None
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            data = data.strip().upper()
        return super().to_internal_value(data)


class NamedChoiceField(serializers.ChoiceField):
    """A choice set with one fixed name in the schema, whatever the field is called."""

    enum_name = ""


class NamedChoiceFieldSchema(OpenApiSerializerFieldExtension):
    # Without a fixed name drf-spectacular names a choice set after each field that uses
    # it, and warns when two names meet one set (the deploy check fails on that).
    target_class = NamedChoiceField
    match_subclasses = True

    def get_name(self) -> str:
        return self.target.enum_name

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.target.choices)}


class ShellStateField(NamedChoiceField):
    enum_name = "ShellStateEnum"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ShellState.choices, default=ShellState.UNKNOWN, **kwargs)


class ShellGroupField(NamedChoiceField):
    enum_name = "ShellGroupEnum"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[(group, group) for group in rules.SHELL_GROUPS], **kwargs)


class CriterionCodeField(NamedChoiceField):
    enum_name = "NipCriterionEnum"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[(code, code) for code in CRITERIA], **kwargs)


class CriterionResultField(NamedChoiceField):
    enum_name = "NipCriterionResultEnum"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[(r, r) for r in RESULTS], **kwargs)


class NipGroupField(NamedChoiceField):
    enum_name = "NipGroupEnum"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Group.choices, **kwargs)


class ShellInput(StrictInput):
    """The state of each shell group; a group left out is unknown."""

    floor = ShellStateField(help_text="Floor and soil.")
    facade = ShellStateField(help_text="Facade, including the cavity wall.")
    roof = ShellStateField(help_text="Roof, attic floor and loft floor.")
    windows = ShellStateField(help_text="Windows.")


class EligibilityInput(StrictInput):
    """What is known about a home and its owners; null or left out is "not known yet"."""

    owner_occupied = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "The owner lives in the home (or a mixed owners' association with an "
            "owner-occupier). Null or left out: not known yet."
        ),
    )
    energy_label = EnergyLabelInput(
        required=False,
        default=None,
        help_text="The registered energy label; null when the home has none.",
    )
    build_year = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1000,
        help_text="From 1000 to next year; estimates the insulation when there is no label.",
    )
    dwelling_type = serializers.ChoiceField(
        choices=DwellingType.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="An apartment's floor and roof count only when their state is given.",
    )
    woz_below_limit = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "The WOZ value is at or under the limit the programme chose (the NHG limit or "
            "the municipal average). Only yes or no: never send the value."
        ),
    )
    income_below_threshold = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The household's income is at or under the programme's threshold.",
    )
    debt_relief = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "In debt counselling, debt restructuring or receiving special assistance: no "
            "maximum per home applies."
        ),
    )
    shell = ShellInput(
        required=False,
        help_text=(
            "What is known about the insulation of each shell group; a group left out is "
            "unknown and estimated from the build year."
        ),
    )
    date = serializers.DateField(
        required=False,
        help_text="The NIP parameters in force on this date apply; today when left out.",
    )

    def validate_build_year(self, value: int | None) -> int | None:
        latest = self.context["today"].year + 1
        if value is not None and value > latest:
            raise serializers.ValidationError(
                _("Ensure this value is less than or equal to %(limit_value)s.")
                % {"limit_value": latest}
            )
        return value

    def answers(self) -> rules.Answers:
        data = self.validated_data
        return rules.Answers(
            owner_occupied=data["owner_occupied"],
            energy_label=data["energy_label"],
            build_year=data["build_year"],
            dwelling_type=data["dwelling_type"],
            woz_below_limit=data["woz_below_limit"],
            income_below_threshold=data["income_below_threshold"],
            debt_relief=data["debt_relief"],
            shell=dict(data.get("shell", {})),
        )


class CriterionOutput(serializers.Serializer):
    code = CriterionCodeField()
    result = CriterionResultField()
    reason = serializers.CharField(help_text="Why, in the request's language.")
    missing = serializers.ListField(
        child=serializers.CharField(),
        help_text=(
            "The answers (or NIP parameters, as parameters.<key>) that would decide an unknown."
        ),
    )


class EligibilityOutput(serializers.Serializer):
    group = NipGroupField(
        help_text="focus: full unburdening; partial: NIP contribution and ISDE; out_of_scope."
    )
    eligible = serializers.BooleanField(help_text="In the target group: focus or partial.")
    max_spend_eur = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text=(
            "The most that may be spent on measures for this home; 0 out of scope, null when "
            "no maximum applies (debt relief) or the parameters lack it (see criteria)."
        ),
    )
    nip_contribution_eur = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text=(
            "The NIP money per home; 0 out of scope, null when the parameters for the date "
            "do not hold it (the programme's own amount applies)."
        ),
    )
    criteria = CriterionOutput(many=True)
    poor_elements = serializers.ListField(
        child=ShellGroupField(),
        help_text="The shell groups counted as poorly insulated, known or estimated.",
    )
    estimated = serializers.BooleanField(
        help_text="The insulation was (partly) estimated from the build year: check it."
    )
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="Every criterion's missing answers together."
    )
    parameter_version = serializers.CharField(help_text="The NIP parameter set used.")


class EligibilityApi(APIView):
    permission_classes = [IsNipStaff]

    @extend_schema(
        operation_id="nip_eligibility",
        tags=["nip"],
        description=(
            "Which NIP group a home's answers put it in (focus: full unburdening; partial; "
            "out of scope), with the reason for every criterion and what is missing. "
            "Stores nothing. For municipality staff, coordinators and energy coaches; "
            "API keys are refused."
        ),
        request=EligibilityInput,
        responses={
            200: EligibilityOutput,
            400: OpenApiResponse(description="A message per field that is wrong."),
            401: OpenApiResponse(description="Not logged in."),
            403: OpenApiResponse(description="Not for residents, province analysts or API keys."),
        },
    )
    def post(self, request: Request) -> Response:
        today = timezone.localdate()
        serializer = EligibilityInput(data=request.data, context={"today": today})
        serializer.is_valid(raise_exception=True)
        day: dt.date = serializer.validated_data.get("date") or today
        try:
            params, _set_pk = parameters_on(day)
        except NoParameters:
            raise serializers.ValidationError(
                {
                    "date": [
                        _("No NIP parameters are in force on %(day)s. Choose a later date.")
                        % {"day": f"{day:%d-%m-%Y}"}
                    ]
                }
            ) from None
        outcome = rules.eligibility(serializer.answers(), params)
        return Response(EligibilityOutput(outcome).data)
