"""URLs of the NIP's application pages (included by nip/urls.py, namespace "nip")."""

from __future__ import annotations

from django.urls import path

from nip import application_views as views

urlpatterns = [
    path("<int:programme>/aanvragen/", views.application_list, name="application-list"),
    path("<int:programme>/aanvragen/nieuw/", views.application_new, name="application-new"),
    path("aanvragen/<int:pk>/", views.application_detail, name="application-detail"),
    path("aanvragen/<int:pk>/intake/", views.application_edit, name="application-edit"),
    path("aanvragen/<int:pk>/toekennen/", views.application_approve, name="application-approve"),
    path("aanvragen/<int:pk>/afwijzen/", views.application_reject, name="application-reject"),
    path("aanvragen/<int:pk>/intrekken/", views.application_withdraw, name="application-withdraw"),
    path("aanvragen/<int:pk>/betaling/", views.application_payment, name="application-payment"),
    path("aanvragen/<int:pk>/natuurcheck/", views.application_species, name="application-species"),
    path("aanvragen/<int:pk>/maatregelen/", views.application_measure, name="application-measure"),
    path("aanvragen/<int:pk>/afronden/", views.application_complete, name="application-complete"),
    # kind: "natuurcheck" (pk of the application) or "factuur" (pk of the measure).
    path("bestanden/<slug:kind>/<int:pk>/", views.application_file, name="application-file"),
    path("huishoudens/<int:pk>/aanvraag/", views.household_intake, name="household-intake"),
]
