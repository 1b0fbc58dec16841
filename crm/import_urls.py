"""URLs of the import of an initiative's existing residents (under /aanmeldingen/importeren/).

The upload's id is random and says nothing about the file or the residents in it.
"""

from __future__ import annotations

from django.urls import path

from crm import import_views

urlpatterns = [
    path("", import_views.import_upload, name="import-upload"),
    path("<uuid:upload>/kolommen/", import_views.import_mapping, name="import-mapping"),
    path("<uuid:upload>/controle/", import_views.import_preview, name="import-preview"),
    path("<uuid:upload>/bevestigen/", import_views.import_confirm, name="import-confirm"),
    path("<uuid:upload>/resultaat/", import_views.import_result, name="import-result"),
    path("<uuid:upload>/annuleren/", import_views.import_cancel, name="import-cancel"),
]
