"""Bench-only: the demo dossier the "dossier" benchmark loads, and that page's floor.

config/urls.py routes these views only when the environment has BENCH_VIEWS=1, which
bench/run.py sets for its own throwaway server; no other deployment has the URL. The
floor view answers with the same template and the same context as the coach's page, but
computed once per worker process: what remains is gunicorn, the middleware (session and
user), the context processors and the template. The page's ratio to this floor is what
its queries and access checks cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from unittest import mock

from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.test.utils import CaptureQueriesContext

from dossier import views as dossier_views

BENCH_COACH = "coach@energie-de-bilt.example"
MEASURES, MESSAGES, PHOTOS = 40, 30, 20


@transaction.atomic
def enlarge_demo_dossier() -> int:
    """Grow the first dossier of the demo coach to 40 measures, 30 messages and 20 photos.

    Only for the bench's throwaway database: it adds catalogue rows. Photos are rows
    with file names only; no page of the benchmark reads the files.
    """
    from accounts.models import User
    from dossier.models import Dossier, DossierMeasure, MeasureType, Message, Photo

    coach = User.objects.get(email=BENCH_COACH)
    dossier = (
        Dossier.objects.filter(household__assigned_coach=coach)
        .select_related("household")
        .order_by("pk")
        .first()
    )
    if dossier is None:
        raise RuntimeError(f"the demo data has no dossier coached by {BENCH_COACH}")
    resident = dossier.household.residents.first()
    missing = MEASURES - MeasureType.objects.count()
    MeasureType.objects.bulk_create(
        [
            MeasureType(
                code=f"bench-{i}", name=f"Maatregel {i}", category="small", sort_order=900 + i
            )
            for i in range(max(0, missing))
        ]
    )
    have = set(dossier.measures.values_list("measure_type_id", flat=True))
    DossierMeasure.objects.bulk_create(
        [
            DossierMeasure(dossier=dossier, measure_type=measure_type)
            for measure_type in MeasureType.objects.all()[:MEASURES]
            if measure_type.pk not in have
        ]
    )
    Message.objects.bulk_create(
        [
            Message(
                dossier=dossier,
                author=coach if i % 2 or resident is None else resident,
                body=f"Bericht {i + 1} over het bezoek.",
                visibility="staff" if i % 5 == 4 else "shared",
            )
            for i in range(MESSAGES - dossier.messages.count())
        ]
    )
    components = list(dossier.components.all())
    measures = list(dossier.measures.all())
    Photo.objects.bulk_create(
        [
            Photo(
                dossier=dossier,
                image=f"dossiers/photos/bench-{i}.jpg",
                thumbnail=f"dossiers/thumbnails/bench-{i}.jpg",
                width=1600,
                height=1200,
                component=components[i % len(components)] if i % 2 else None,
                measure=measures[i % len(measures)] if not i % 2 else None,
                caption=f"Foto {i + 1}",
                taken_by=coach,
            )
            for i in range(PHOTOS - dossier.photos.count())
        ]
    )
    return dossier.pk


@dataclass(frozen=True)
class Captured:
    user_id: int
    template_name: str
    context: dict[str, Any]
    # Queries the template itself made when it was rendered with the kept context: each
    # is made again on every floor request, so the bench reports it.
    template_queries: int


# Per worker process: dossier pk -> what the real view rendered for its first request.
_captured: dict[int, Captured] = {}


def _capture(request: HttpRequest, pk: int) -> Captured:
    """Run the real visit view once and keep the template and context it rendered."""
    seen: dict[str, Any] = {}

    def keep(request: HttpRequest, template_name: str, context: Any = None, *a, **kw):
        seen.update(template_name=template_name, context=dict(context or {}))
        return HttpResponse()

    with mock.patch.object(dossier_views, "render", keep):
        response = dossier_views.dossier_visit(request, pk=pk)
    if response.status_code != 200 or not seen:
        raise Http404
    # The first render evaluates the context's querysets, which then keep their rows.
    render(request, seen["template_name"], seen["context"])
    with CaptureQueriesContext(connection) as queries:
        render(request, seen["template_name"], seen["context"])
    return Captured(request.user.pk, seen["template_name"], seen["context"], len(queries))


def dossier_visit_floor(request: HttpRequest, pk: int) -> HttpResponse:
    captured = _captured.get(pk)
    if captured is None:
        captured = _captured[pk] = _capture(request, pk)
    # The kept context is the first caller's: never show it to anyone else.
    if request.user.pk != captured.user_id:
        raise Http404
    response = render(request, captured.template_name, captured.context)
    response["X-Bench-Template-Queries"] = str(captured.template_queries)
    return response


def session_floor(request: HttpRequest) -> HttpResponse:
    """The logged-in floor: the whole middleware stack with a session, then a tiny answer.

    /health/ is answered before the session middleware (config.middleware.ProbeMiddleware),
    so it no longer costs what every logged-in request costs. This view goes through every
    middleware like a page does (the session and the user loaded, allauth's session
    activity, the session limits and second-step checks) and reads request.user, but runs
    no query of its own and renders no template. Anonymous requests get 403, so a floor
    measured without a working session shows up as failed requests instead of a fast one.
    """
    if not request.user.is_authenticated:
        return HttpResponse(b"anonymous", status=403, content_type="text/plain")
    return HttpResponse(b"ok", content_type="text/plain")
