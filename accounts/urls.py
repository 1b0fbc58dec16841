from __future__ import annotations

from django.urls import path

from accounts import token_views, views

app_name = "accounts"

urlpatterns = [
    path("<slug:slug>/", views.organisation_detail, name="organisation-detail"),
    path("<slug:slug>/api-sleutels/", token_views.api_token_list, name="api-token-list"),
    path("<slug:slug>/api-sleutels/nieuw/", token_views.api_token_create, name="api-token-create"),
    path(
        "<slug:slug>/api-sleutels/<int:pk>/intrekken/",
        token_views.api_token_revoke,
        name="api-token-revoke",
    ),
]
