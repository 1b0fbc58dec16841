from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataplatformConfig(AppConfig):
    name = "dataplatform"
    verbose_name = _("Data platform")

    def ready(self) -> None:
        from dataplatform import prefill
        from dossier import signals

        # A new dossier starts from what the open-data files know of its address.
        signals.dwelling_prefill.connect(
            prefill.on_dwelling_prefill, dispatch_uid="dataplatform-dwelling-prefill"
        )
