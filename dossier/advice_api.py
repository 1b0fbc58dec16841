"""The public calculation endpoint: figures for a home described by its characteristics.

Anonymous on purpose: an initiative's website can offer a quick scan before anyone signs
up. It stores nothing (no row, no log line with the input) and is throttled per client.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from dossier import advice, calculations
from dossier.calculations import Calculation, Figure
from dossier.models import ApartmentType, DwellingType
from dossier.models.house import Cooking, HeatingSystem, HotWater

STATE_CHOICES = [*calculations.INSULATION_STATES, "unknown"]


class CalculateThrottle(AnonRateThrottle):
    scope = "advice-calculate"


class ComponentStateInput(serializers.Serializer):
    state = serializers.ChoiceField(choices=STATE_CHOICES, required=False)
    area_m2 = serializers.FloatField(required=False, min_value=0, max_value=5000)
    u_value = serializers.FloatField(required=False, min_value=0.05, max_value=10)
    rc_value = serializers.FloatField(required=False, min_value=0, max_value=20)


class ComponentsInput(serializers.Serializer):
    roof = ComponentStateInput(required=False)
    facade = ComponentStateInput(required=False)
    cavity_wall = ComponentStateInput(required=False)
    floor = ComponentStateInput(required=False)
    glazing_living = ComponentStateInput(
        required=False, help_text="none = single glass, partial = double, good = HR++ or better"
    )
    glazing_bedrooms = ComponentStateInput(required=False)
    doors_panels = ComponentStateInput(required=False)


class CalculateInput(serializers.Serializer):
    dwelling_type = serializers.ChoiceField(choices=DwellingType.choices)
    apartment_type = serializers.ChoiceField(choices=ApartmentType.choices, required=False)
    build_year = serializers.IntegerField(min_value=1500, max_value=2100)
    floor_area_m2 = serializers.FloatField(min_value=15, max_value=2000)
    gas_m3_per_year = serializers.FloatField(required=False, min_value=0, max_value=20000)
    gas_price_eur_per_m3 = serializers.FloatField(required=False, min_value=0, max_value=10)
    electricity_price_eur_per_kwh = serializers.FloatField(required=False, min_value=0, max_value=5)
    occupants = serializers.IntegerField(required=False, min_value=1, max_value=20)
    heating_system = serializers.ChoiceField(choices=HeatingSystem.choices, required=False)
    hot_water = serializers.ChoiceField(choices=HotWater.choices, required=False)
    cooking = serializers.ChoiceField(choices=Cooking.choices, required=False)
    has_solar_panels = serializers.BooleanField(required=False, default=False)
    nip_contribution_eur = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=100000,
        help_text="What the NIP gives this home; leave out when the home does not qualify.",
    )
    components = ComponentsInput(required=False)
    done = serializers.ListField(
        child=serializers.ChoiceField(choices=calculations.MEASURE_CODES),
        required=False,
        max_length=len(calculations.MEASURE_CODES),
        help_text="Codes of measures the home already has.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("apartment_type") and attrs["dwelling_type"] != "apartment":
            raise serializers.ValidationError(
                {"apartment_type": _("Only an apartment has an apartment type.")}
            )
        return attrs

    def house(self) -> calculations.House:
        data = self.validated_data
        components = {
            kind: calculations.Component(
                state=values.get("state", ""),
                area_m2=values.get("area_m2"),
                u_value=values.get("u_value"),
                rc_value=values.get("rc_value"),
            )
            for kind, values in data.get("components", {}).items()
        }
        return calculations.House(
            dwelling_type=data["dwelling_type"],
            apartment_type=data.get("apartment_type", ""),
            build_year=data["build_year"],
            floor_area_m2=data["floor_area_m2"],
            gas_m3_per_year=data.get("gas_m3_per_year"),
            gas_price_eur_per_m3=data.get("gas_price_eur_per_m3"),
            electricity_price_eur_per_kwh=data.get("electricity_price_eur_per_kwh"),
            occupants=data.get("occupants"),
            heating_system=data.get("heating_system", ""),
            hot_water=data.get("hot_water", ""),
            cooking=data.get("cooking", ""),
            has_solar_panels=data.get("has_solar_panels", False),
            nip_contribution_eur=data.get("nip_contribution_eur", 0.0),
            components=components,
            done=frozenset(data.get("done", [])),
        )


class MeasureFiguresOutput(serializers.Serializer):
    code = serializers.CharField()
    applicable = serializers.BooleanField()
    already_done = serializers.BooleanField()
    reason = serializers.CharField()
    cost_eur = serializers.IntegerField()
    isde_subsidy_eur = serializers.IntegerField()
    nip_contribution_eur = serializers.IntegerField()
    net_cost_eur = serializers.IntegerField()
    gas_saved_m3 = serializers.IntegerField()
    electricity_saved_kwh = serializers.IntegerField(
        help_text="Negative when the measure uses electricity (a heat pump)."
    )
    savings_eur_per_year = serializers.IntegerField()
    payback_years = serializers.FloatField(allow_null=True)
    co2_saved_kg = serializers.IntegerField()


class CalculateOutput(serializers.Serializer):
    parameter_version = serializers.CharField()
    measures = MeasureFiguresOutput(many=True)
    heat_demand_kwh_m2 = serializers.IntegerField()
    standard_target_kwh_m2 = serializers.IntegerField(allow_null=True)
    indicative_label = serializers.CharField()


def _whole(figure: Figure) -> int:
    return round(figure.value or 0)


def calculation_output(calculation: Calculation) -> dict[str, Any]:
    """Figures rounded as they are shown: whole euros, m³, kWh and kg; payback to 0.1 year."""
    target = calculation.standard_target_kwh_m2.value
    return {
        "parameter_version": calculation.parameter_version,
        "measures": [
            {
                "code": m.code,
                "applicable": m.applicable,
                "already_done": m.already_done,
                "reason": str(m.reason),
                "cost_eur": _whole(m.cost_eur),
                "isde_subsidy_eur": _whole(m.isde_subsidy_eur),
                "nip_contribution_eur": _whole(m.nip_contribution_eur),
                "net_cost_eur": _whole(m.net_cost_eur),
                "gas_saved_m3": _whole(m.gas_saved_m3),
                "electricity_saved_kwh": _whole(m.electricity_saved_kwh),
                "savings_eur_per_year": _whole(m.savings_eur_per_year),
                "payback_years": (
                    None if m.payback_years.value is None else round(m.payback_years.value, 1)
                ),
                "co2_saved_kg": _whole(m.co2_saved_kg),
            }
            for m in calculation.measures
        ],
        "heat_demand_kwh_m2": _whole(calculation.heat_demand_kwh_m2),
        "standard_target_kwh_m2": None if target is None else round(target),
        "indicative_label": calculation.indicative_label.value,
    }


class AdviceCalculateApi(APIView):
    # No session: an anonymous form on another website posts here, and nothing is
    # changed on anyone's behalf, so there is no CSRF to guard against.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [CalculateThrottle]

    @extend_schema(
        operation_id="advice_calculate",
        request=CalculateInput,
        responses={
            200: CalculateOutput,
            400: OpenApiResponse(description="A message per field that is wrong."),
            429: OpenApiResponse(description="Too many requests; try again later."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = CalculateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        calculation = calculations.calculate(serializer.house(), advice.parameters_on())
        return Response(CalculateOutput(calculation_output(calculation)).data)
