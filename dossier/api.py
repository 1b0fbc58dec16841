"""The dossier API under /api/v1/: list, read and save one topic of a dossier.

The API is for coaches and coordinators (DESIGN: "for coaches and coordinators").
A resident is refused as a whole with 403: the resident knows their own dossier
exists, so hiding it behind a 404 would protect nothing, and a resident has the HTML
pages. Everyone else only reaches the dossiers `accounts.access` lets them see: a
dossier of another organisation, or one a coach is not assigned to, is a 404.
Authentication is the session (with CSRF for writes), as for the HTML pages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access
from dossier import selectors, services
from dossier.access_log import access_logged_api
from dossier.models import (
    BuildingComponent,
    ComponentKind,
    Dossier,
    DossierMeasure,
    DossierSection,
    Section,
    Source,
    ValueRecord,
    YesNoUnknown,
)
from dossier.selectors import DossierFilters, DossierPage

ALL_SECTION_FIELDS: tuple[str, ...] = tuple(
    name for fields in services.SECTION_FIELDS.values() for name in fields
)
# Components belong to the insulation topic and measures to the measures topic; a save
# of another topic that carries them is refused rather than stored under the wrong topic.
COMPONENT_SECTION = Section.INSULATION
MEASURE_SECTION = Section.MEASURES


class YesNoUnknownField(serializers.ChoiceField):
    """A yes / no / "I don't know" answer: one named choice set in the schema."""


class YesNoUnknownFieldSchema(OpenApiSerializerFieldExtension):
    # Many characteristics share this choice set; without one name for it drf-spectacular
    # names it after each field in turn and warns (and the deploy check fails on that).
    target_class = YesNoUnknownField

    def get_name(self) -> str:
        return "YesNoUnknownEnum"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        # Every such column may be left empty ("": not answered yet).
        return {"type": "string", "enum": [*self.target.choices, ""]}


class ModelFieldsSerializer(serializers.ModelSerializer):
    """A ModelSerializer that maps yes / no / "I don't know" columns to YesNoUnknownField."""

    def build_standard_field(self, field_name: str, model_field: Any) -> tuple[type, dict]:
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        choices = [value for value, _label in kwargs.get("choices", ())]
        if field_class is serializers.ChoiceField and choices == YesNoUnknown.values:
            field_class = YesNoUnknownField
        return field_class, kwargs


# The largest id a database column holds: a larger one is bad input, not a server error.
ID_MAX = 2**63 - 1

# What every operation may answer besides its result (the schema run holds them to it).
NO_LOGIN = OpenApiResponse(description=_("no login"))
NOT_STAFF = OpenApiResponse(description=_("not for residents, nor for an API key"))
NOT_FOUND = OpenApiResponse(
    description=_("no such dossier or topic, or not one the caller may see")
)


class IsStaffOfAnOrganisation(BasePermission):
    """Logged in and not a resident: residents use the HTML pages, not the API."""

    message = _("The API is for coaches and coordinators.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and not access.is_resident(user))


class DossierApi(APIView):
    permission_classes = [IsStaffOfAnOrganisation]


# Output pieces shared by the list and the detail.


class PersonOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="get_full_name")


class InitiativeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AddressOutput(serializers.Serializer):
    street_line = serializers.CharField()
    postcode = serializers.CharField()
    city = serializers.CharField()
    municipality_code = serializers.CharField()


class HouseholdOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = AddressOutput(source="dwelling")
    initiative = InitiativeOutput()
    assigned_coach = PersonOutput(allow_null=True)


class DossierListItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    household = HouseholdOutput()
    created_at = serializers.DateTimeField()
    invited_at = serializers.DateTimeField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)


class DossierListPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DossierListItemOutput(many=True)


class DossierPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@access_logged_api("dossier_list", rows=("dossier", "id"))
class DossierListApi(DossierApi):
    class DossierListFilter(serializers.Serializer):
        initiative = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
        postcode = serializers.CharField(
            required=False, max_length=7, help_text=_("the start of the postcode, e.g. 3731")
        )
        assigned_to_me = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        operation_id="dossier_list",
        parameters=[DossierListFilter],
        responses={
            200: DossierListPageOutput,
            400: OpenApiResponse(description=_("bad input: a list of messages per field")),
            401: NO_LOGIN,
            403: NOT_STAFF,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.DossierListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        dossiers = selectors.dossier_list(
            viewer=request.user, filters=DossierFilters(**filters.validated_data)
        )
        paginator = DossierPagination()
        page = paginator.paginate_queryset(dossiers, request, view=self)
        return paginator.get_paginated_response(DossierListItemOutput(page, many=True).data)


class RecordOutput(serializers.ModelSerializer):
    recorded_by = PersonOutput(allow_null=True)

    class Meta:
        model = ValueRecord
        fields = [
            "source",
            "value",
            "recorded_at",
            "recorded_by",
            "source_detail",
            "checked_in_home",
        ]


class CharacteristicsOutput(ModelFieldsSerializer):
    class Meta:
        model = Dossier
        fields = list(ALL_SECTION_FIELDS)


class ComponentOutput(serializers.ModelSerializer):
    class Meta:
        model = BuildingComponent
        fields = ["id", "kind", *services.COMPONENT_FIELDS]


class MeasureOutput(serializers.ModelSerializer):
    code = serializers.CharField(source="measure_type.code")
    name = serializers.CharField(source="measure_type.name")

    class Meta:
        model = DossierMeasure
        fields = ["id", "code", "name", *services.MEASURE_FIELDS, "updated_at"]


class SectionOutput(serializers.ModelSerializer):
    label = serializers.CharField(source="get_section_display")
    updated_by = PersonOutput(allow_null=True)

    class Meta:
        model = DossierSection
        fields = [
            "section",
            "label",
            "version",
            "notes",
            "checked_in_home",
            "updated_at",
            "updated_by",
        ]


def _sources(page: DossierPage) -> dict[str, list[ValueRecord]]:
    order = {key: i for i, key in enumerate(Source.values)}
    return {
        key: sorted(by_source.values(), key=lambda r: order.get(r.source, len(order)))
        for key, by_source in sorted(page.records.items())
    }


@access_logged_api("dossier_detail")
class DossierDetailApi(DossierApi):
    class DossierDetailOutput(serializers.Serializer):
        id = serializers.IntegerField(source="dossier.id")
        household = HouseholdOutput()
        characteristics = CharacteristicsOutput(
            source="dossier",
            help_text=_("the current value of every characteristic (empty: not answered)"),
        )
        sources = serializers.DictField(
            child=RecordOutput(many=True),
            help_text=_(
                'per field ("build_year", "roof.insulation") the latest answer of each source'
            ),
        )
        components = ComponentOutput(many=True)
        measures = MeasureOutput(many=True)
        sections = SectionOutput(many=True)
        created_at = serializers.DateTimeField(source="dossier.created_at")
        submitted_at = serializers.DateTimeField(source="dossier.submitted_at", allow_null=True)

    @extend_schema(
        operation_id="dossier_detail",
        responses={200: DossierDetailOutput, 401: NO_LOGIN, 403: NOT_STAFF, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        page = selectors.dossier_page(viewer=request.user, pk=pk)
        data = self.DossierDetailOutput(
            {
                "dossier": page.dossier,
                "household": page.household,
                "sources": _sources(page),
                "components": page.components,
                "measures": page.measures,
                "sections": list(page.sections.values()),
            }
        ).data
        return Response(data)


# Input: built from the model fields, so the API applies the same limits (choices,
# lengths, minimum and maximum) as the model and its forms.


class ValuesInput(ModelFieldsSerializer):
    class Meta:
        model = Dossier
        fields = list(ALL_SECTION_FIELDS)
        extra_kwargs = {name: {"required": False} for name in ALL_SECTION_FIELDS}


class ComponentInput(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=ComponentKind.choices)

    class Meta:
        model = BuildingComponent
        fields = ["kind", *services.COMPONENT_FIELDS]
        extra_kwargs = {name: {"required": False} for name in services.COMPONENT_FIELDS}


class MeasureInput(serializers.ModelSerializer):
    id = serializers.IntegerField()

    class Meta:
        model = DossierMeasure
        fields = ["id", *services.MEASURE_FIELDS]
        extra_kwargs = {name: {"required": False} for name in services.MEASURE_FIELDS}


def _given(data: Any) -> set[str]:
    return set(data) if isinstance(data, dict) else set()


@access_logged_api("dossier_section_update")
class DossierSectionUpdateApi(DossierApi):
    class SectionUpdateInput(serializers.Serializer):
        version = serializers.IntegerField(
            min_value=0, help_text=_("the version of the topic the editor started from")
        )
        values = ValuesInput(required=False, help_text=_("characteristics of this topic"))
        components = ComponentInput(many=True, required=False)
        measures = MeasureInput(many=True, required=False)
        notes = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=DossierSection._meta.get_field("notes").max_length,
        )
        checked_in_home = serializers.BooleanField(required=False)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            section: str = self.context["section"]
            measure_ids: set[int] = self.context["measure_ids"]
            raw = self.initial_data if isinstance(self.initial_data, dict) else {}
            errors: dict[str, Any] = {}
            # A serializer drops keys it does not know; a field of another topic must be
            # refused, not silently ignored.
            foreign = _given(raw.get("values")) - set(services.SECTION_FIELDS[section])
            if foreign:
                errors["values"] = {
                    name: [_("This field does not belong to this topic.")]
                    for name in sorted(foreign)
                }
            if attrs.get("components") and section != COMPONENT_SECTION:
                errors["components"] = [_("Building components belong to another topic.")]
            if attrs.get("measures") and section != MEASURE_SECTION:
                errors["measures"] = [_("Measures belong to another topic.")]
            kinds = [c["kind"] for c in attrs.get("components", [])]
            if len(kinds) != len(set(kinds)):
                errors.setdefault("components", []).append(
                    _("Each part of the home may appear only once.")
                )
            unknown = [m["id"] for m in attrs.get("measures", []) if m["id"] not in measure_ids]
            if unknown:
                errors.setdefault("measures", []).append(
                    _("Unknown measure for this dossier: %(ids)s")
                    % {"ids": ", ".join(map(str, unknown))}
                )
            if errors:
                raise serializers.ValidationError(errors)
            return attrs

    class SectionConflictOutput(serializers.Serializer):
        detail = serializers.CharField()
        section = serializers.CharField()
        current_version = serializers.IntegerField()
        submitted_version = serializers.IntegerField()
        differences = serializers.DictField(
            help_text=_("per field key: the value stored now and the value submitted")
        )

    @extend_schema(
        operation_id="dossier_section_update",
        parameters=[
            OpenApiParameter(
                "section", OpenApiTypes.STR, OpenApiParameter.PATH, enum=Section.values
            )
        ],
        request=SectionUpdateInput,
        responses={
            200: SectionOutput,
            400: OpenApiResponse(description=_("bad input: a list of messages per field")),
            401: NO_LOGIN,
            403: NOT_STAFF,
            404: NOT_FOUND,
            409: SectionConflictOutput,
        },
    )
    def patch(self, request: Request, pk: int, section: str) -> Response:
        if section not in Section.values:
            return Response({"detail": _("No such topic.")}, status=status.HTTP_404_NOT_FOUND)
        dossier = access.get_for(request.user, Dossier, action=access.Action.CHANGE, pk=pk)
        measure_ids = set(dossier.measures.values_list("pk", flat=True))
        serializer = self.SectionUpdateInput(
            data=request.data, context={"section": section, "measure_ids": measure_ids}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            row = services.section_save(
                dossier=dossier,
                section=section,
                version=data["version"],
                actor=request.user,
                values=dict(data.get("values", {})),
                components={
                    c["kind"]: {k: v for k, v in c.items() if k != "kind"}
                    for c in data.get("components", [])
                },
                measures={
                    m["id"]: {k: v for k, v in m.items() if k != "id"}
                    for m in data.get("measures", [])
                },
                notes=data.get("notes"),
                checked_in_home=data.get("checked_in_home"),
            )
        except services.SectionConflict as conflict:
            return Response(
                self.SectionConflictOutput(
                    {
                        "detail": _("This topic was changed by someone else since you opened it."),
                        "section": section,
                        "current_version": conflict.section.version,
                        "submitted_version": conflict.submitted_version,
                        "differences": {
                            key: {"current": _text(now), "submitted": _text(sent)}
                            for key, (now, sent) in conflict.differences.items()
                        },
                    }
                ).data,
                status=status.HTTP_409_CONFLICT,
            )
        except DjangoValidationError as error:
            # Rules across fields (a label class needs a label kind) are the model's.
            return Response(_error_dict(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(SectionOutput(row).data)


def _text(value: Any) -> str | None:
    return None if value is None else services.as_text(value)


def _error_dict(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            ("non_field_errors" if key == "__all__" else key): messages
            for key, messages in error.message_dict.items()
        }
    return {"non_field_errors": error.messages}
