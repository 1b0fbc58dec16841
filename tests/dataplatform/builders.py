"""Builders for data-platform test data: consent texts and records, agreements, publications.

They write rows directly, so a test of one part does not depend on another part's
services; tests of the services themselves go through dataplatform's own functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Organisation, User
from dataplatform.models import (
    Channel,
    ConsentRecord,
    ConsentText,
    Level,
    Publication,
    PublicationCell,
    SharingAgreement,
)
from dossier.models import Household

# A tiny but real PDF: what an uploaded signed agreement looks like to the storage.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def make_consent_text(purpose: str, *, version: str = "1", **fields: Any) -> ConsentText:
    existing = ConsentText.objects.filter(purpose=purpose, version=version).first()
    if existing is not None:
        return existing
    fields.setdefault("title", f"Toestemming {purpose}")
    fields.setdefault("text", f"Tekst voor {purpose}, versie {version}.")
    fields.setdefault("valid_from", timezone.now() - dt.timedelta(days=365))
    return ConsentText.objects.create(purpose=purpose, version=version, **fields)


def give_consent(
    household: Household,
    purpose: str,
    *,
    channel: str = Channel.ONLINE,
    by: User | None = None,
    at: dt.datetime | None = None,
) -> ConsentRecord:
    return ConsentRecord.objects.create(
        household=household,
        purpose=purpose,
        text=make_consent_text(purpose),
        given_at=at or timezone.now(),
        channel=channel,
        recorded_by=by,
    )


def make_agreement(
    initiative: Organisation,
    recipient: Organisation,
    level: str = Level.PC6,
    *,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    **fields: Any,
) -> SharingAgreement:
    fields.setdefault("reference", f"DSA-{initiative.slug}-{recipient.slug}-{level}")
    agreement = SharingAgreement(
        initiative=initiative,
        recipient=recipient,
        level=level,
        valid_from=valid_from or (timezone.localdate() - dt.timedelta(days=30)),
        valid_until=valid_until,
        **fields,
    )
    agreement.document.save("overeenkomst.pdf", ContentFile(PDF), save=False)
    agreement.save()
    return agreement


def make_publication(
    recipient: Organisation,
    cells: Iterable[tuple[str, str, str, str, int | None]] = (),
    *,
    k: int = 10,
    rules_version: str = "test-1",
) -> Publication:
    """A publication with cells (level, area_code, municipality_code, measure, count);
    a count of None is a suppressed cell."""
    publication = Publication.objects.create(recipient=recipient, k=k, rules_version=rules_version)
    PublicationCell.objects.bulk_create(
        [
            PublicationCell(
                publication=publication,
                level=level,
                area_code=area,
                municipality_code=municipality,
                measure=measure,
                count=count,
                suppressed=count is None,
            )
            for level, area, municipality, measure, count in cells
        ]
    )
    return publication
