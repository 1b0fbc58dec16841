"""Stub: filled in by its own part of the data platform."""

urlpatterns: list = []
