from __future__ import annotations

from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("verwerkingsregister.csv", views.register_csv, name="register-csv"),
]
