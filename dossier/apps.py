from __future__ import annotations

from django.apps import AppConfig
from django.core.signals import request_finished
from django.utils.translation import gettext_lazy as _

from dossier import storage


class DossierConfig(AppConfig):
    name = "dossier"
    verbose_name = _("House dossier")

    def ready(self) -> None:
        # A request that rolled back (ATOMIC_REQUESTS) leaves the files it stored behind.
        request_finished.connect(
            storage.delete_rolled_back_files, dispatch_uid="dossier-delete-rolled-back-files"
        )
