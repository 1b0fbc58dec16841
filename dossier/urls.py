from __future__ import annotations

from django.urls import path

from dossier import exchange_urls, views

app_name = "dossier"

urlpatterns = [
    path("overzicht/", views.dashboard, name="dashboard"),
    path("huishoudens/", views.household_list, name="household-list"),
    path("huishoudens/<int:pk>/", views.household_detail, name="household-detail"),
]

urlpatterns += exchange_urls.urlpatterns
