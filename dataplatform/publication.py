"""Making publications: a snapshot of suppressed cells per receiving organisation.

A publication holds every level the recipient's agreements allow, each level with the
households of only the initiatives whose agreement allows that level, in the recipient's
own municipalities. The publication, its cells and (for a province) its outbox row are
written in one transaction: the platform never receives half a publication, and a
publication is never made without being queued for delivery.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation
from dataplatform import agreements
from dataplatform.aggregation import aggregate_levels
from dataplatform.models import (
    AGGREGATE_LEVELS,
    K_MINIMUM,
    Level,
    Publication,
    PublicationCell,
    PublicationDelivery,
    SharingAgreement,
)
from dataplatform.suppression import RULES_VERSION

BATCH = 5000
RECIPIENT_KINDS = (Organisation.Kind.MUNICIPALITY, Organisation.Kind.PROVINCE)


def publication_k(k: int | None = None) -> int:
    """The K to publish with: the one given, else the setting; never below the minimum."""
    k = settings.DATAPLATFORM_K if k is None else k
    if k < K_MINIMUM:
        raise ValueError(f"K must be at least {K_MINIMUM}, not {k}.")
    return k


@transaction.atomic
def publication_make(
    *, recipient: Organisation, now: dt.datetime | None = None, k: int | None = None
) -> Publication | None:
    """A new publication for `recipient`, or None when no agreement is in force."""
    now = now or timezone.now()
    k = publication_k(k)
    on = timezone.localdate(now)
    initiatives = {
        level: agreements.initiatives_sharing(recipient=recipient, level=level, on=on)
        for level in AGGREGATE_LEVELS
    }
    if not any(initiatives.values()):
        return None
    municipality_codes = sorted(recipient.municipalities.values_list("code", flat=True))
    cells, households = aggregate_levels(initiatives, municipality_codes=municipality_codes, k=k)
    publication = Publication.objects.create(
        recipient=recipient,
        rules_version=RULES_VERSION,
        k=k,
        households=households,
        sources={level: ids for level, ids in initiatives.items() if ids},
    )
    PublicationCell.objects.bulk_create(
        (
            PublicationCell(
                publication=publication,
                level=cell.level,
                area_code=cell.area,
                municipality_code=cell.municipality,
                measure=cell.measure,
                count=cell.count,
                suppressed=cell.suppressed,
            )
            for cell in cells
        ),
        batch_size=BATCH,
    )
    if recipient.kind == Organisation.Kind.PROVINCE:
        PublicationDelivery.objects.create(publication=publication, next_attempt_at=now)
    return publication


def publications_make(now: dt.datetime | None = None) -> list[Publication]:
    """One publication per municipality or province with an agreement in force, each on its own."""
    now = now or timezone.now()
    on = timezone.localdate(now)
    recipient_ids = (
        SharingAgreement.objects.filter(
            agreements.in_force(on),
            recipient__kind__in=RECIPIENT_KINDS,
            recipient__is_active=True,
            initiative__is_active=True,
            # Address level allows every aggregate level too.
            level__in=[Level.ADDRESS, *AGGREGATE_LEVELS],
        )
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    made = []
    for recipient in Organisation.objects.filter(id__in=recipient_ids).order_by("id"):
        publication = publication_make(recipient=recipient, now=now)
        if publication is not None:
            made.append(publication)
    return made
