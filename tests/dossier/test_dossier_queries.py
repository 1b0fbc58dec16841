"""The dossier page loads in a fixed number of queries, however many rows the dossier has."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import access
from dossier import selectors
from dossier.models import (
    Document,
    Dossier,
    DossierMeasure,
    MeasureType,
    Message,
    MessageRead,
    Photo,
    Source,
    ValueRecord,
)
from dossier.models.exchange import Visibility

# The access check (the viewer's roles) and the dossier, then one query per kind of row:
# residents, topics, components, measures, sources, messages, documents, photos.
MAX_QUERIES = 10


def fill(dossier: Dossier, *, measures: int, messages: int, photos: int, author) -> None:
    """Give the dossier exactly this many measures, messages (some staff-only) and photos."""
    missing = measures - MeasureType.objects.count()
    MeasureType.objects.bulk_create(
        [
            MeasureType(code=f"extra-{i}", name=f"Extra {i}", category="small", sort_order=900 + i)
            for i in range(max(0, missing))
        ]
    )
    DossierMeasure.objects.filter(dossier=dossier).delete()
    DossierMeasure.objects.bulk_create(
        [
            DossierMeasure(dossier=dossier, measure_type=measure_type)
            for measure_type in MeasureType.objects.all()[:measures]
        ]
    )
    created = Message.objects.bulk_create(
        [
            Message(
                dossier=dossier,
                author=author,
                body=f"Bericht {i}",
                visibility=Visibility.STAFF if i % 3 == 2 else Visibility.SHARED,
            )
            for i in range(messages)
        ]
    )
    MessageRead.objects.bulk_create(
        [MessageRead(message=message, user=author) for message in created[::2]]
    )
    components = list(dossier.components.all())
    measure_rows = list(dossier.measures.all())
    Photo.objects.bulk_create(
        [
            Photo(
                dossier=dossier,
                image=f"dossiers/photos/{i}.jpg",
                thumbnail=f"dossiers/thumbnails/{i}.jpg",
                width=800,
                height=600,
                component=components[i % len(components)],
                measure=measure_rows[i % len(measure_rows)],
                caption=f"Foto {i}",
                taken_by=author,
            )
            for i in range(photos)
        ]
    )
    Document.objects.bulk_create(
        [
            Document(
                dossier=dossier,
                kind="quote",
                title=f"Offerte {i}",
                file=f"dossiers/documents/{i}.pdf",
                content_type="application/pdf",
                extension=".pdf",
                size=1000,
                visibility=Visibility.STAFF if i % 2 else Visibility.SHARED,
                measure=measure_rows[i % len(measure_rows)],
                uploaded_by=author,
            )
            for i in range(max(1, photos // 4))
        ]
    )
    ValueRecord.objects.bulk_create(
        [
            ValueRecord(
                dossier=dossier,
                field=f"{component.kind}.insulation",
                source=Source.COACH,
                value="good",
                recorded_at=timezone.now(),
                recorded_by=author,
            )
            for component in components
        ]
    )


def count_queries(viewer, dossier: Dossier) -> tuple[int, selectors.DossierPage]:
    # A new request starts without the viewer's roles cached.
    access.forget_roles(viewer)
    with CaptureQueriesContext(connection) as queries:
        page = selectors.dossier_page(viewer=viewer, pk=dossier.pk)
        # Everything a page shows of each row must already be loaded.
        for photo in page.photos:
            str(photo.component), str(photo.measure), str(photo.taken_by)
        for measure in page.measures:
            str(measure.measure_type)
        for message in page.messages:
            str(message.author)
        for document in page.documents:
            str(document.uploaded_by)
        for section in page.sections.values():
            str(section.updated_by)
        for by_source in page.records.values():
            for record in by_source.values():
                str(record.recorded_by)
        str(page.household.dwelling), str(page.household.initiative)
        str(page.household.assigned_coach)
        list(page.residents)
    return len(queries), page


@pytest.fixture
def big_and_small(cast):
    big = cast.household_a.dossier
    small = cast.household_a2.dossier
    fill(big, measures=40, messages=30, photos=20, author=cast.alice)
    fill(small, measures=1, messages=1, photos=1, author=cast.bob)
    return big, small


def test_it_loads_a_big_dossier_in_as_many_queries_as_a_small_one(cast, big_and_small):
    big, small = big_and_small
    big_count, page = count_queries(cast.coordinator, big)
    small_count, small_page = count_queries(cast.coordinator, small)
    assert (len(page.measures), len(page.messages), len(page.photos)) == (40, 30, 20)
    assert (len(small_page.measures), len(small_page.messages), len(small_page.photos)) == (1, 1, 1)
    assert big_count == small_count
    assert big_count <= MAX_QUERIES


def test_it_loads_the_coachs_dossier_in_a_fixed_number_of_queries(cast, big_and_small):
    big, _ = big_and_small
    count, page = count_queries(cast.alice, big)
    assert count <= MAX_QUERIES
    assert set(page.sections) >= {"house", "energy", "measures"}
    assert page.records["roof.insulation"][Source.COACH].value == "good"


def test_it_counts_the_messages_the_viewer_has_not_read(cast, big_and_small):
    big, _ = big_and_small
    # Alice wrote all 30 herself: nothing is unread for her, all 30 are for the coordinator.
    assert selectors.dossier_page(viewer=cast.alice, pk=big.pk).unread_count == 0
    assert selectors.dossier_page(viewer=cast.coordinator, pk=big.pk).unread_count == 30


def test_it_hides_staff_only_messages_and_documents_from_residents(cast, big_and_small):
    big, _ = big_and_small
    count, page = count_queries(cast.resident, big)
    assert count <= MAX_QUERIES
    assert len(page.messages) == 20
    assert all(m.visibility == Visibility.SHARED for m in page.messages)
    assert all(d.visibility == Visibility.SHARED for d in page.documents)
    assert len(page.documents) == 3
    staff_page = selectors.dossier_page(viewer=cast.alice, pk=big.pk)
    assert len(staff_page.messages) == 30
    assert len(staff_page.documents) == 5


@pytest.mark.parametrize("who", ["bob", "charlie", "coordinator_b", "municipality_staff"])
def test_it_refuses_the_page_to_who_may_not_see_it(cast, who):
    with pytest.raises(Http404):
        selectors.dossier_page(viewer=getattr(cast, who), pk=cast.household_a.dossier.pk)


# The coach's visit page (dossier/views.py) loads its own rows today rather than through
# dossier_page; this keeps it from growing a query per measure, message or photo.
VISIT_PAGE_MAX_QUERIES = 25


@pytest.mark.parametrize("size", ["big", "small"])
def test_it_shows_the_visit_page_in_a_bounded_number_of_queries(
    cast, login, big_and_small, django_assert_max_num_queries, size
):
    dossier = big_and_small[0] if size == "big" else big_and_small[1]
    client = login(cast.coordinator)
    with django_assert_max_num_queries(VISIT_PAGE_MAX_QUERIES):
        response = client.get(f"/dossiers/{dossier.pk}/bezoek/")
    assert response.status_code == 200
