"""URLs of the CRM pages: the coordinator's queue, cases, visits and tasks."""

from __future__ import annotations

from django.urls import include, path

from crm import views

app_name = "crm"

urlpatterns = [
    path("aanmeldingen/importeren/", include("crm.import_urls")),
    path("initiatief/", include("crm.dashboard_urls")),
    path("aanmeldingen/", views.case_list, name="case-list"),
    path("aanmeldingen/toewijzen/", views.case_bulk_assign, name="case-bulk-assign"),
    path("aanmeldingen/<int:pk>/", views.case_detail, name="case-detail"),
    path("aanmeldingen/<int:pk>/coach/", views.case_assign, name="case-assign"),
    path("aanmeldingen/<int:pk>/stap/", views.case_transition, name="case-transition"),
    path(
        "aanmeldingen/<int:pk>/bekend-adres/", views.case_known_address, name="case-known-address"
    ),
    path("aanmeldingen/<int:pk>/uitnodigen/", views.case_invite, name="case-invite"),
    path("aanmeldingen/<int:pk>/notities/", views.case_note_add, name="case-note-add"),
    path("aanmeldingen/<int:pk>/bezoeken/", views.visit_plan, name="visit-plan"),
    path("aanmeldingen/<int:pk>/taken/", views.task_add, name="task-add"),
    path("bezoeken/", views.visit_list, name="visit-list"),
    path("bezoeken/<int:pk>/afspraak.ics", views.visit_ics, name="visit-ics"),
    path("bezoeken/<int:pk>/gedaan/", views.visit_done, name="visit-done"),
    path("bezoeken/<int:pk>/annuleren/", views.visit_cancel, name="visit-cancel"),
    path("taken/<int:pk>/klaar/", views.task_done, name="task-done"),
    path("dossiers/<int:pk>/opvolging/", views.follow_up, name="follow-up"),
    path("energiecoaches/", views.coach_list, name="coach-list"),
    path("energiecoaches/<int:initiative>/<int:pk>/", views.coach_profile, name="coach-profile"),
]
