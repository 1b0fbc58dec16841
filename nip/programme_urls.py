"""URLs of the NIP's programme pages (included by nip/urls.py, namespace "nip")."""

from __future__ import annotations

from django.urls import path

from nip import programme_views as views

urlpatterns = [
    path("", views.programme_list, name="programme-list"),
    path("nieuw/", views.programme_new, name="programme-new"),
    path("<int:pk>/", views.programme_detail, name="programme-detail"),
    path("<int:pk>/wijzigen/", views.programme_edit, name="programme-edit"),
    path("<int:pk>/businesscase/", views.business_case, name="business-case"),
    path(
        "<int:pk>/businesscase/wijzigen/",
        views.business_case_edit,
        name="business-case-edit",
    ),
]
