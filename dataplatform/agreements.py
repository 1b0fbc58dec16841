"""Which sharing agreements are in force: the one gate every outgoing flow passes.

No data leaves without an agreement (DESIGN.md): publications, the pull API, the CSV
download and the address-level export all ask this module which initiatives' households
they may include for a receiving organisation at a level on a date; the dashboard asks
which levels it may still show.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from accounts.models import Organisation
from dataplatform.models import LEVEL_ORDER, SharingAgreement


def in_force(on: dt.date) -> Q:
    """Agreements whose period covers `on` and that were not ended before it."""
    return (
        Q(valid_from__lte=on)
        & (Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        & (Q(ended_at__isnull=True) | Q(ended_at__date__gt=on))
    )


def agreements_in_force(
    *, recipient: Organisation, level: str, on: dt.date
) -> QuerySet[SharingAgreement]:
    """The recipient's agreements in force on `on` that allow data at `level`.

    An agreement allows its own level and every coarser one (models.LEVEL_ORDER).
    """
    allowed = LEVEL_ORDER[: LEVEL_ORDER.index(level) + 1]
    return SharingAgreement.objects.filter(
        in_force(on), recipient=recipient, level__in=allowed, initiative__is_active=True
    )


def levels_in_force(*, recipient: Organisation, on: dt.date) -> list[str]:
    """The levels at which some agreement in force on `on` lets data reach `recipient`,
    finest first (an agreement allows its own level and every coarser one)."""
    agreed = {
        LEVEL_ORDER.index(level)
        for level in SharingAgreement.objects.filter(
            in_force(on), recipient=recipient, initiative__is_active=True
        )
        .values_list("level", flat=True)
        .distinct()
    }
    return list(LEVEL_ORDER[min(agreed) :]) if agreed else []


def initiatives_sharing(*, recipient: Organisation, level: str, on: dt.date) -> list[int]:
    """Ids of the initiatives whose households' data may reach `recipient` at `level`."""
    return sorted(
        set(
            agreements_in_force(recipient=recipient, level=level, on=on).values_list(
                "initiative_id", flat=True
            )
        )
    )
