from __future__ import annotations

from django.urls import path

from privacy import views
from privacy.retention_urls import urlpatterns as retention_urlpatterns
from privacy.rights_urls import urlpatterns as rights_urlpatterns

app_name = "privacy"

urlpatterns = [
    path("verwerkingsregister.csv", views.register_csv, name="register-csv"),
    *rights_urlpatterns,
    *retention_urlpatterns,
]
