"""The sharing agreements for their parties: the list, one agreement, its signed document."""

from __future__ import annotations

from django.urls import path

from dataplatform import agreement_views

urlpatterns = [
    path("", agreement_views.agreement_list, name="agreement-list"),
    path("<int:pk>/", agreement_views.agreement_detail, name="agreement-detail"),
    path("<int:pk>/document/", agreement_views.agreement_document, name="agreement-document"),
]
