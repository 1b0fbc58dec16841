"""URLs of the resident's rights: their own data, and erasure by the coordinator."""

from __future__ import annotations

from django.urls import path

from privacy import rights_views as views

urlpatterns = [
    path("mijn-gegevens/", views.my_data, name="my-data"),
    path("mijn-gegevens/gegevens.json", views.my_data_json, name="my-data-json"),
    path("mijn-gegevens/gegevens.pdf", views.my_data_pdf, name="my-data-pdf"),
    path("huishoudens/<int:pk>/wissen/", views.household_erase, name="household-erase"),
    path("huishoudens/<int:pk>/gewist/", views.household_erased, name="household-erased"),
]
