"""The public sign-up form of each initiative, under /aanmelden/<slug>/ (no login)."""

from __future__ import annotations

from django.urls import path

from crm import signup_views

app_name = "signup"

urlpatterns = [
    path("<slug:slug>/", signup_views.signup, name="form"),
    path("<slug:slug>/bedankt/", signup_views.signup_thanks, name="thanks"),
    path("<slug:slug>/privacy/<slug:version>/", signup_views.privacy_statement, name="privacy"),
]
