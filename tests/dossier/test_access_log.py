"""Every staff view of a household's pages leaves an access entry; the coordinator sees them."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from dossier.access_log import PAGES, access_logged

pytestmark = pytest.mark.django_db


def accesses() -> list[LogEntry]:
    return list(LogEntry.objects.filter(action=LogEntry.Action.ACCESS).order_by("pk"))


def pages(household) -> dict[str, str]:
    dossier = household.dossier.pk
    return {
        "household": reverse("dossier:household-detail", args=[household.pk]),
        "dossier": reverse("dossier:dossier-overview", args=[dossier]),
        "section": reverse("dossier:dossier-section", args=[dossier, "house"]),
        "visit": reverse("dossier:dossier-visit", args=[dossier]),
        "advice": reverse("dossier:dossier-advice", args=[dossier]),
        "reports": reverse("dossier:dossier-reports", args=[dossier]),
    }


@pytest.mark.parametrize("page", ["household", "dossier", "section", "visit", "advice", "reports"])
def test_a_coach_looking_at_a_page_is_logged(cast, login, page):
    household = cast.household_a
    response = login(cast.alice).get(pages(household)[page])

    assert response.status_code == 200
    [entry] = accesses()
    assert entry.actor == cast.alice
    topic = {"topic": "house"} if page == "section" else {}
    assert entry.additional_data == {"page": page, "roles": ["coach"], **topic}
    subject = household if page == "household" else household.dossier
    assert (entry.content_type.model, entry.object_id) == (subject._meta.model_name, subject.pk)


def test_the_entry_holds_nothing_of_the_resident(cast, login):
    household = cast.household_a
    login(cast.coordinator).get(pages(household)["dossier"])

    [entry] = accesses()
    stored = " ".join(
        str(value)
        for value in (entry.object_repr, entry.additional_data, entry.changes, entry.changes_text)
    )
    assert entry.object_repr == f"dossier {household.dossier.pk}"
    for personal in (household.name, household.dwelling.street, household.dwelling.postcode):
        assert personal not in stored


def test_a_resident_looking_at_their_own_home_is_not_logged(cast, login):
    client = login(cast.resident)
    for page, url in pages(cast.household_a).items():
        # The visit page is for staff: it sends the resident to the overview.
        assert client.get(url).status_code == (302 if page == "visit" else 200)
    assert accesses() == []


@pytest.mark.parametrize("who", ["charlie", "coordinator_b", "municipality_staff"])
def test_a_refused_look_is_not_an_access(cast, login, who):
    client = login(getattr(cast, who))
    for url in pages(cast.household_a).values():
        assert client.get(url).status_code == 404
    assert accesses() == []


def test_anonymous_is_sent_to_the_login_and_nothing_is_logged(cast, client):
    for url in pages(cast.household_a).values():
        assert client.get(url).status_code == 302
    assert accesses() == []


def test_saving_a_topic_is_a_change_not_a_view(cast, login):
    household = cast.household_a
    from tests.dossier.test_dossier_pages import form_data, step

    login(cast.alice).post(step(household), form_data(household, floor_area_m2="101"))

    assert accesses() == []
    assert LogEntry.objects.filter(action=LogEntry.Action.UPDATE).exists()


def test_the_coordinator_sees_who_looked(cast, login):
    household = cast.household_a
    login(cast.alice).get(pages(household)["visit"])

    page = login(cast.coordinator).get(pages(household)["household"]).text

    assert "Wie keek er in dit huishouden" in page
    assert str(cast.alice) in page
    assert "bezoekpagina" in page
    assert "energiecoach" in page


@pytest.mark.parametrize("who", ["alice", "resident", "coordinator_b"])
def test_nobody_else_sees_who_looked(cast, login, who):
    login(cast.coordinator).get(pages(cast.household_a)["dossier"])
    response = login(getattr(cast, who)).get(pages(cast.household_a)["household"])
    assert "Wie keek er in dit huishouden" not in response.text


def test_the_administrator_cannot_change_or_delete_an_entry(cast, login):
    login(cast.coordinator).get(pages(cast.household_a)["dossier"])
    [entry] = accesses()
    admin = login(cast.admin)

    # The change page is read-only: a post changes nothing.
    admin.post(reverse("admin:auditlog_logentry_change", args=[entry.pk]), {"action": "0"})
    delete = admin.post(reverse("admin:auditlog_logentry_delete", args=[entry.pk]), {"post": "yes"})

    assert delete.status_code == 403
    assert accesses() == [entry]
    entry.refresh_from_db()
    assert entry.additional_data == {"page": "dossier", "roles": ["coordinator"]}


def test_an_unknown_page_code_is_refused():
    with pytest.raises(ValueError, match="unknown page"):
        access_logged("somewhere")
    assert "report_pdf" in PAGES
