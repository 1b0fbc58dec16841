from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from crm import receivers
        from dossier import signals

        signals.dossier_submitted.connect(
            receivers.on_dossier_submitted, dispatch_uid="crm-dossier-submitted"
        )
        signals.advice_report_delivered.connect(
            receivers.on_advice_report_delivered, dispatch_uid="crm-advice-report-delivered"
        )
