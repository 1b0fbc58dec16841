"""The aggregates API under /api/v1/aggregates/: a publication's figures for its recipient.

Two kinds of caller. An API key of a municipality or a province (accounts.api_tokens)
reads the figures published for its own organisation; so does a person who is logged in
as staff of a municipality or an analyst of a province. Nobody else: an initiative's key
(that is for the CRM API), coordinators, coaches and residents get 403, and nobody reads
another organisation's publication. The figures are the newest publication's, one level
at a time, by area and measure, a page at a time (a province has hundreds of thousands of
cells); a suppressed cell has `count: null` and `suppressed: true`, never a number. An
area of fewer than K households comes as its `households` cell alone, suppressed: every
figure of such an area is suppressed, and listing them all would add rows, not facts.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access, api_tokens
from accounts.authentication import has_api_token
from dataplatform import published
from dataplatform.models import AGGREGATE_LEVELS


class IsFigureReader(BasePermission):
    """A municipality's or a province's API key, or their staff who are logged in."""

    admits_api_tokens = True
    message = _(
        "The figures are for municipality staff, province analysts and the API keys of a "
        "municipality or a province."
    )

    def has_permission(self, request: Request, view: APIView) -> bool:
        if has_api_token(request):
            return api_tokens.reaches(request.auth, api_tokens.AGGREGATES_API)
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and access.has_role(user, *published.READER_ROLES.values())
        )


class CellPagination(CursorPagination):
    """Pages by area: the cursor keeps its place among hundreds of thousands of cells
    without counting them, and follows the unique index (publication, level, area, measure)."""

    ordering = ("area_code", "measure")
    page_size = 1000
    page_size_query_param = "page_size"
    max_page_size = 10000


class Refused(APIException):
    """An Unanswerable request: messages per query parameter, or one detail."""

    def __init__(self, refusal: published.Unanswerable) -> None:
        self.status_code = refusal.status
        detail: Any = (
            {refusal.field: [refusal.message]} if refusal.field else {"detail": refusal.message}
        )
        super().__init__(detail=detail)


class PublicationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    organisation = serializers.CharField(
        source="recipient.slug", help_text="The receiving organisation (its short name)."
    )
    made_at = serializers.DateTimeField(source="created_at")
    rules_version = serializers.CharField(help_text="The version of the suppression rules.")
    k = serializers.IntegerField(help_text="A published cell counts at least this many.")
    households = serializers.IntegerField(
        help_text="Households with consent included in the publication."
    )


class CellOutput(serializers.Serializer):
    area = serializers.CharField(
        source="area_code",
        help_text="Postcode-6, CBS neighbourhood, district or municipality code.",
    )
    municipality = serializers.CharField(source="municipality_code")
    measure = serializers.CharField(
        help_text=(
            'What is counted: "households", "label:D", "dwelling_type:terraced", '
            '"build_year:1945-1974", "measure_done:<code>", "measure_wanted:<code>".'
        )
    )
    count = serializers.IntegerField(
        allow_null=True, help_text="Households; null when the cell is suppressed."
    )
    suppressed = serializers.BooleanField(
        help_text="Too few households, or a total would reveal a small cell: not published."
    )


class AggregatesOutput(serializers.Serializer):
    publication = PublicationOutput()
    level = serializers.ChoiceField(choices=list(AGGREGATE_LEVELS))
    municipality = serializers.CharField(allow_null=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null.")
    results = CellOutput(many=True)


class AggregatesApi(APIView):
    permission_classes = [IsFigureReader]

    @extend_schema(
        operation_id="aggregates_list",
        tags=["aggregates"],
        description=(
            "The figures of the newest publication for the caller's municipality or "
            "province at one level (postcode-6, neighbourhood, district or municipality), "
            "by area and measure, a page at a time (follow `next`). Small cells are "
            "suppressed: `count` is null and `suppressed` true; an area of fewer than K "
            "households comes as its suppressed `households` cell alone. Only while a sharing "
            "agreement in force allows the level. For the API keys of a municipality or a "
            "province, and for their staff who are logged in."
        ),
        parameters=[
            OpenApiParameter(
                "level",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(AGGREGATE_LEVELS),
                description="pc6, neighbourhood, district or municipality.",
            ),
            OpenApiParameter(
                "municipality",
                OpenApiTypes.STR,
                description="Only the areas of this municipality (a CBS code such as GM0310).",
            ),
            OpenApiParameter(
                "organisation",
                OpenApiTypes.STR,
                description="For a person who works for several: whose figures (short name).",
            ),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next`/`previous`."),
            OpenApiParameter(
                "page_size", OpenApiTypes.INT, description="Cells per page (at most 10000)."
            ),
        ],
        responses={
            200: AggregatesOutput,
            400: OpenApiResponse(description="A municipality that is not the organisation's."),
            401: OpenApiResponse(description="No login and no valid API key."),
            403: OpenApiResponse(
                description="Not for initiatives' keys, coordinators, coaches or residents."
            ),
            404: OpenApiResponse(
                description="No publication yet, no agreement in force for the level, or no "
                "such level."
            ),
        },
    )
    def get(self, request: Request, level: str) -> Response:
        token = request.auth if has_api_token(request) else None
        candidates = (
            [token.organisation]
            if token is not None
            else published.reader_organisations(request.user)
        )
        try:
            figures = published.figure_request(
                candidates=candidates,
                organisation_slug=request.query_params.get("organisation"),
                level=level,
                municipality=request.query_params.get("municipality"),
                on=timezone.localdate(),
            )
        except published.Unanswerable as refusal:
            raise Refused(refusal) from None
        paginator = CellPagination()
        page = paginator.paginate_queryset(published.cells(figures), request, view=self)
        return Response(
            AggregatesOutput(
                {
                    "publication": figures.publication,
                    "level": figures.level,
                    "municipality": figures.municipality,
                    "next": paginator.get_next_link(),
                    "previous": paginator.get_previous_link(),
                    "results": page,
                }
            ).data
        )
