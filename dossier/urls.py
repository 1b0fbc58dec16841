from __future__ import annotations

from django.urls import path, register_converter

from dossier import advice_views, exchange_urls, views
from dossier.models import Section


class SectionConverter:
    """A dossier topic ("house", "energy", ...); anything else does not match (404), so the
    topic URLs leave room for other pages under /dossiers/<pk>/."""

    regex = "|".join(Section.values)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SectionConverter, "dossier_section")

app_name = "dossier"

urlpatterns = [
    path("overzicht/", views.dashboard, name="dashboard"),
    path("huishoudens/", views.household_list, name="household-list"),
    path("huishoudens/<int:pk>/", views.household_detail, name="household-detail"),
    path("dossiers/<int:pk>/", views.dossier_overview, name="dossier-overview"),
    path("dossiers/<int:pk>/bezoek/", views.dossier_visit, name="dossier-visit"),
    path("dossiers/<int:pk>/advies/", advice_views.dossier_advice, name="dossier-advice"),
    path("dossiers/<int:pk>/rapporten/", advice_views.dossier_reports, name="dossier-reports"),
    path(
        "dossiers/<int:pk>/rapporten/voortgang/",
        advice_views.report_progress,
        name="report-progress",
    ),
    path(
        "dossiers/<int:pk>/rapporten/<int:report_pk>/pdf/",
        advice_views.report_file,
        name="report-file",
    ),
    path(
        "dossiers/<int:pk>/rapporten/<int:report_pk>/opnieuw/",
        advice_views.report_retry,
        name="report-retry",
    ),
    path(
        "dossiers/<int:pk>/rapporten/<int:report_pk>/geprint/",
        advice_views.report_printed,
        name="report-printed",
    ),
    path("dossiers/<int:pk>/controleren/", views.dossier_value_check, name="value-check"),
    path("dossiers/<int:pk>/uitnodigen/", views.dossier_invite, name="dossier-invite"),
    path(
        "dossiers/<int:pk>/<dossier_section:section>/",
        views.dossier_section,
        name="dossier-section",
    ),
    path(
        "uitnodiging/<str:uidb64>/<str:token>/",
        views.invitation_accept,
        name="invitation-accept",
    ),
]

urlpatterns += exchange_urls.urlpatterns
