"""The advice page: every measure's figures, each one unfolding to its formula and inputs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dossier import advice
from dossier.models import MeasureType


@require_GET
@login_required
@never_cache
def dossier_advice(request: HttpRequest, pk: int) -> HttpResponse:
    result = advice.dossier_advice(viewer=request.user, pk=pk)
    names = dict(MeasureType.objects.values_list("code", "name"))
    by_code = {m.measure_type.code: m for m in result.page.measures}
    rows = [
        {
            "result": measure,
            "name": names.get(measure.code, measure.code),
            "dossier_measure": by_code.get(measure.code),
        }
        for measure in result.calculation.measures
    ]
    # Measures that save something first, the quickest payback on top.
    rows.sort(
        key=lambda r: (
            not r["result"].applicable,
            r["result"].payback_years.value is None,
            r["result"].payback_years.value or 0,
        )
    )
    return render(
        request,
        "dossier/dossier_advice.html",
        {
            "dossier": result.page.dossier,
            "household": result.page.household,
            "advice": result,
            "rows": rows,
            "plan_names": [names.get(code, code) for code in result.plan.codes],
        },
    )
