from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataplatformConfig(AppConfig):
    name = "dataplatform"
    verbose_name = _("Data platform")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from dataplatform import prefill, shared
        from dataplatform.models import ConsentRecord
        from dossier import signals
        from dossier.models import Dossier, DossierMeasure, Dwelling, Household

        # A new dossier starts from what the open-data files know of its address.
        signals.dwelling_prefill.connect(
            prefill.on_dwelling_prefill, dispatch_uid="dataplatform-dwelling-prefill"
        )
        # The households in the aggregates follow their dossier, dwelling and consent.
        receivers = [
            (post_save, Dwelling, shared.on_dwelling_saved),
            (post_save, Household, shared.on_household_saved),
            (post_save, Dossier, shared.on_dossier_saved),
            (post_delete, Dossier, shared.on_dossier_deleted),
            (post_save, DossierMeasure, shared.on_measure_changed),
            (post_delete, DossierMeasure, shared.on_measure_changed),
            (post_save, ConsentRecord, shared.on_consent_saved),
        ]
        for signal, model, receiver in receivers:
            signal.connect(
                receiver,
                sender=model,
                dispatch_uid=f"dataplatform-shared-{signal is post_save}-{model.__name__}",
            )
