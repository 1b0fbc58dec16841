"""API keys: stored as a hash only, checked in one place, managed by the coordinators."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
import time_machine
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import api_tokens
from accounts.models import ApiToken, Membership, Organisation
from accounts.roles import Role
from dataplatform.models import Level
from dossier.models import Household
from tests import builders
from tests.dataplatform.builders import make_agreement, make_publication

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def list_url(organisation: Organisation) -> str:
    return reverse("accounts:api-token-list", args=[organisation.slug])


def create_url(organisation: Organisation) -> str:
    return reverse("accounts:api-token-create", args=[organisation.slug])


def revoke_url(token: ApiToken) -> str:
    return reverse("accounts:api-token-revoke", args=[token.organisation.slug, token.pk])


@pytest.fixture
def made(cast) -> tuple[ApiToken, str]:
    return api_tokens.api_token_create(
        organisation=cast.initiative_a, name="Website", actor=cast.coordinator
    )


def shown_key(response) -> str:
    """The key as the page shows it, in the read-only field with id api-token-key."""
    match = re.search(r'id="api-token-key"[^>]*value="([^"]+)"', response.content.decode())
    assert match, "the new key is not on the page"
    return match.group(1)


# The key and its hash --------------------------------------------------------------------


def test_only_the_hash_and_a_short_prefix_of_the_key_are_stored(cast, made):
    token, key = made
    assert key.startswith("wd_") and len(key) == 3 + 43
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["prefix"] == key[:11]
    assert all(key not in str(value) for value in row.values())


def test_every_key_is_different(cast):
    keys = {
        api_tokens.api_token_create(
            organisation=cast.initiative_a, name=f"Sleutel {n}", actor=cast.coordinator
        )[1]
        for n in range(20)
    }
    assert len(keys) == 20


def test_it_finds_a_usable_key_and_nothing_else(cast, made):
    token, key = made
    assert api_tokens.token_for_key(key) == token
    assert api_tokens.token_for_key(key[:-1]) is None
    assert api_tokens.token_for_key(key + "x") is None
    assert api_tokens.token_for_key(token.key_hash) is None
    assert api_tokens.token_for_key("") is None


def test_a_revoked_key_an_expired_key_and_one_of_an_inactive_initiative_are_refused(cast, made):
    token, key = made
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + dt.timedelta(hours=1))
    assert api_tokens.token_for_key(key) == token
    assert api_tokens.token_for_key(key, now=timezone.now() + dt.timedelta(hours=2)) is None

    Organisation.objects.filter(pk=cast.initiative_a.pk).update(is_active=False)
    assert api_tokens.token_for_key(key) is None
    Organisation.objects.filter(pk=cast.initiative_a.pk).update(is_active=True)

    api_tokens.api_token_revoke(token=token)
    assert api_tokens.token_for_key(key) is None


def test_revoking_twice_keeps_the_first_time(cast, made):
    token, _key = made
    first = api_tokens.api_token_revoke(token=token, now=NOW)
    second = api_tokens.api_token_revoke(token=token, now=NOW + dt.timedelta(days=1))
    assert first.revoked_at == second.revoked_at == NOW
    assert ApiToken.objects.get(pk=token.pk).revoked_at == NOW


def test_a_key_needs_a_name_and_a_future_end(cast):
    for organisation, actor in (
        (cast.initiative_a, cast.coordinator),
        (cast.municipality, cast.municipality_staff),
    ):
        with pytest.raises(ValidationError):
            api_tokens.api_token_create(organisation=organisation, name="  ", actor=actor)
        with pytest.raises(ValidationError):
            api_tokens.api_token_create(
                organisation=organisation,
                name="Oud",
                actor=actor,
                expires_at=timezone.now() - dt.timedelta(minutes=1),
            )
    assert not ApiToken.objects.exists()


def test_use_is_recorded_at_most_once_a_minute(cast, made):
    token, key = made
    client = Client(headers={"Authorization": f"Bearer {key}"})
    with time_machine.travel(NOW, tick=False):
        assert client.get("/api/v1/cases/").status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at == NOW
    with time_machine.travel(NOW + dt.timedelta(seconds=50), tick=False):
        assert client.get("/api/v1/cases/").status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at == NOW
    later = NOW + dt.timedelta(seconds=70)
    with time_machine.travel(later, tick=False):
        assert client.get("/api/v1/cases/").status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at == later


def test_a_refused_key_is_not_recorded_as_used(cast, made):
    token, key = made
    api_tokens.api_token_revoke(token=token)
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/v1/cases/").status_code == 401
    assert ApiToken.objects.get(pk=token.pk).last_used_at is None


def test_the_audit_log_records_making_and_revoking_without_the_hash(cast, made):
    token, key = made
    api_tokens.api_token_revoke(token=token)
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(ApiToken), object_pk=str(token.pk)
    )
    assert entries.count() == 2
    for entry in entries:
        assert "key_hash" not in (entry.changes or {})
        assert token.key_hash not in str(entry.changes) + str(entry.serialized_data)
        assert key not in str(entry.changes)


# The page --------------------------------------------------------------------------------


def test_the_coordinator_sees_the_keys_without_the_keys_themselves(cast, login, made):
    token, key = made
    response = login(cast.coordinator).get(list_url(cast.initiative_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="api-token-{token.pk}"' in html
    assert token.prefix in html
    assert key not in html
    assert token.key_hash not in html
    assert 'id="api-token-key"' not in html
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_coordinator_makes_a_key_and_sees_it_once(cast, login):
    client = login(cast.coordinator)
    response = client.post(
        create_url(cast.initiative_a), {"name": "Mailprogramma", "valid_until": ""}
    )
    assert response.status_code == 200
    assert "max-age=0" in response["Cache-Control"]
    key = shown_key(response)
    token = ApiToken.objects.get()
    assert (token.organisation, token.name, token.created_by, token.expires_at) == (
        cast.initiative_a,
        "Mailprogramma",
        cast.coordinator,
        None,
    )
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert api_tokens.token_for_key(key) == token
    # Gone from the page once it is reloaded.
    assert key not in client.get(list_url(cast.initiative_a)).content.decode()


def test_a_key_made_with_an_end_day_stops_after_that_day(cast, login):
    day = timezone.localdate() + dt.timedelta(days=30)
    response = login(cast.coordinator).post(
        create_url(cast.initiative_a), {"name": "Proef", "valid_until": day.isoformat()}
    )
    key = shown_key(response)
    token = ApiToken.objects.get()
    end = timezone.localtime(token.expires_at)
    assert (end.date(), end.hour, end.minute) == (day, 23, 59)
    assert api_tokens.token_for_key(key, now=end - dt.timedelta(seconds=1))
    assert api_tokens.token_for_key(key, now=end + dt.timedelta(seconds=1)) is None


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "valid_until": ""},
        {"name": "x" * 101, "valid_until": ""},
        {"name": "Oud", "valid_until": "2001-01-01"},
        {"name": "Raar", "valid_until": "morgen"},
    ],
)
def test_a_bad_key_form_is_shown_again_and_makes_nothing(cast, login, body):
    response = login(cast.coordinator).post(create_url(cast.initiative_a), body)
    assert response.status_code == 422
    assert 'id="api-token-key"' not in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_coordinator_revokes_a_key_and_it_stops_working(cast, login, made):
    token, key = made
    api = Client(headers={"Authorization": f"Bearer {key}"})
    assert api.get("/api/v1/cases/").status_code == 200
    response = login(cast.coordinator).post(revoke_url(token))
    assert response.status_code == 302
    assert response["Location"] == list_url(cast.initiative_a)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert api.get("/api/v1/cases/").status_code == 401


def test_the_coordinator_of_another_initiative_finds_nothing(cast, login, made):
    token, _key = made
    client = login(cast.coordinator_b)
    assert client.get(list_url(cast.initiative_a)).status_code == 404
    assert client.post(create_url(cast.initiative_a), {"name": "Indringer"}).status_code == 404
    assert client.post(revoke_url(token)).status_code == 404
    # Nor through their own initiative's address.
    url = reverse("accounts:api-token-revoke", args=[cast.initiative_b.slug, token.pk])
    assert client.post(url).status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert ApiToken.objects.count() == 1


def test_a_key_is_revoked_only_at_its_own_initiatives_address(cast, login, made):
    token, _key = made
    Membership.objects.create(
        user=cast.coordinator, organisation=cast.initiative_b, role=Role.COORDINATOR
    )
    url = reverse("accounts:api-token-revoke", args=[cast.initiative_b.slug, token.pk])
    assert login(cast.coordinator).post(url).status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_a_coach_of_the_initiative_is_refused(cast, login, made):
    token, _key = made
    client = login(cast.alice)
    assert client.get(list_url(cast.initiative_a)).status_code == 403
    assert client.post(create_url(cast.initiative_a), {"name": "Coach"}).status_code == 403
    assert client.post(revoke_url(token)).status_code == 403
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize("who", ["resident", "municipality_staff"])
def test_people_outside_the_initiative_find_nothing(cast, login, made, who):
    client = login(getattr(cast, who))
    assert client.get(list_url(cast.initiative_a)).status_code == 404
    assert client.post(create_url(cast.initiative_a), {"name": "X"}).status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(cast, client, made):
    token, _key = made
    for response in (
        client.get(list_url(cast.initiative_a)),
        client.post(create_url(cast.initiative_a), {"name": "X"}),
        client.post(revoke_url(token)),
    ):
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    assert ApiToken.objects.count() == 1
    assert ApiToken.objects.get().revoked_at is None


# The admin -------------------------------------------------------------------------------


def test_the_admin_shows_the_hash_read_only_and_makes_no_keys(cast, login, made):
    token, key = made
    client = login(cast.admin)
    page = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert token.key_hash in html
    assert 'name="key_hash"' not in html
    assert key not in html
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403


def test_the_admin_revokes_keys_through_the_action(cast, login, made):
    token, _key = made
    response = login(cast.admin).post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_two_calls_that_loaded_the_key_at_once_record_its_use_once(cast, made):
    token, _key = made
    first, second = ApiToken.objects.get(pk=token.pk), ApiToken.objects.get(pk=token.pk)
    api_tokens.token_touch(first, now=NOW)
    api_tokens.token_touch(second, now=NOW + dt.timedelta(seconds=10))
    assert ApiToken.objects.get(pk=token.pk).last_used_at == NOW


def test_a_key_used_within_the_minute_costs_no_write(cast, made, django_assert_num_queries):
    token, _key = made
    api_tokens.token_touch(token, now=NOW)
    with django_assert_num_queries(0):
        api_tokens.token_touch(token, now=NOW + dt.timedelta(seconds=30))


def test_the_organisation_page_links_to_the_keys_for_its_coordinators_only(cast, client, login):
    url = reverse("accounts:organisation-detail", args=[cast.initiative_a.slug])
    keys = reverse("accounts:api-token-list", args=[cast.initiative_a.slug])
    login(cast.coordinator)
    assert keys in client.get(url).content.decode()
    login(cast.alice)
    response = client.get(url)
    assert response.status_code != 200 or keys not in response.content.decode()


# Keys of a municipality or a province: the published figures, and nothing else ----------------

FIGURES = "/api/v1/aggregates/pc6/"


@pytest.fixture
def figures(cast, settings, tmp_path):
    """A publication at postcode-6 level for the municipality and for the province."""
    # The signed agreements' documents go to a temporary folder.
    settings.MEDIA_ROOT = tmp_path / "media"
    cells = [("pc6", "3731AB", "GM0310", "households", 12)]
    for body in (cast.municipality, cast.province):
        make_agreement(cast.initiative_a, body, Level.PC6)
        make_publication(body, cells)


@pytest.mark.parametrize(
    ("body", "person"), [("municipality", "municipality_staff"), ("province", "province_analyst")]
)
def test_government_staff_make_a_key_for_their_body_and_see_it_once(cast, login, body, person):
    organisation = getattr(cast, body)
    client = login(getattr(cast, person))
    page = client.get(list_url(organisation))
    assert page.status_code == 200
    assert "/api/v1/aggregates/pc6/" in page.content.decode()
    response = client.post(create_url(organisation), {"name": "GIS-koppeling", "valid_until": ""})
    assert response.status_code == 200
    key = shown_key(response)
    token = ApiToken.objects.get()
    assert (token.organisation, token.name, token.created_by) == (
        organisation,
        "GIS-koppeling",
        getattr(cast, person),
    )
    assert api_tokens.token_for_key(key) == token
    assert key not in client.get(list_url(organisation)).content.decode()


def test_a_municipalitys_key_reads_figures_and_never_the_crm(cast, figures):
    _token, key = api_tokens.api_token_create(
        organisation=cast.municipality, name="GIS", actor=cast.municipality_staff
    )
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get(FIGURES).status_code == 200
    for url in ("/api/v1/cases/", "/api/v1/households/", "/api/v1/visits/", "/api/v1/tasks/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "results" not in response.json()
    assert client.get("/api/v1/dossiers/").status_code in (401, 403)


def test_a_provinces_key_reads_figures_and_never_the_crm(cast, figures):
    _token, key = api_tokens.api_token_create(
        organisation=cast.province, name="Dashboard", actor=cast.province_analyst
    )
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get(FIGURES).status_code == 200
    assert client.get("/api/v1/cases/").status_code == 403


def test_an_initiatives_key_reaches_the_crm_and_never_the_figures(cast, made, figures):
    _token, key = made
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/v1/cases/").status_code == 200
    assert client.get(FIGURES).status_code == 403


def test_which_api_a_key_reaches_follows_its_organisations_kind(cast):
    def token(organisation, actor):
        return api_tokens.api_token_create(organisation=organisation, name="X", actor=actor)[0]

    crm, municipal, provincial = (
        token(cast.initiative_a, cast.coordinator),
        token(cast.municipality, cast.municipality_staff),
        token(cast.province, cast.province_analyst),
    )
    assert api_tokens.reaches(crm, api_tokens.CRM_API)
    assert not api_tokens.reaches(crm, api_tokens.AGGREGATES_API)
    for government in (municipal, provincial):
        assert api_tokens.reaches(government, api_tokens.AGGREGATES_API)
        assert not api_tokens.reaches(government, api_tokens.CRM_API)


def test_a_municipalitys_key_sees_no_crm_rows_by_the_access_policies(cast):
    token, _key = api_tokens.api_token_create(
        organisation=cast.municipality, name="GIS", actor=cast.municipality_staff
    )
    assert not api_tokens.visible_to_token(Household.objects.all(), token).exists()


def test_municipality_staff_revoke_their_key_and_it_stops_working(cast, login, figures):
    token, key = api_tokens.api_token_create(
        organisation=cast.municipality, name="GIS", actor=cast.municipality_staff
    )
    api = Client(headers={"Authorization": f"Bearer {key}"})
    assert api.get(FIGURES).status_code == 200
    response = login(cast.municipality_staff).post(revoke_url(token))
    assert response.status_code == 302
    assert response["Location"] == list_url(cast.municipality)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert api.get(FIGURES).status_code == 401


def test_a_government_key_stops_at_its_end_and_with_its_body(cast, figures):
    token, key = api_tokens.api_token_create(
        organisation=cast.municipality,
        name="Proef",
        actor=cast.municipality_staff,
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    assert api_tokens.token_for_key(key) == token
    assert api_tokens.token_for_key(key, now=timezone.now() + dt.timedelta(hours=2)) is None
    Organisation.objects.filter(pk=cast.municipality.pk).update(is_active=False)
    assert api_tokens.token_for_key(key) is None


def test_people_of_other_bodies_find_no_government_keys(cast, login):
    utrecht = builders.make_organisation(
        Organisation.Kind.MUNICIPALITY, name="Gemeente Utrecht", municipalities=("GM1904",)
    )
    staff_b = builders.make_member(utrecht, Role.MUNICIPALITY_STAFF)
    token, _key = api_tokens.api_token_create(
        organisation=cast.municipality, name="GIS", actor=cast.municipality_staff
    )
    for person in (staff_b, cast.province_analyst, cast.coordinator, cast.resident):
        client = login(person)
        assert client.get(list_url(cast.municipality)).status_code == 404
        assert client.post(create_url(cast.municipality), {"name": "X"}).status_code == 404
        assert client.post(revoke_url(token)).status_code == 404
    # Nor through their own body's address.
    url = reverse("accounts:api-token-revoke", args=[utrecht.slug, token.pk])
    assert login(staff_b).post(url).status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert ApiToken.objects.count() == 1


def test_municipality_staff_find_no_keys_of_the_province(cast, login):
    assert login(cast.municipality_staff).get(list_url(cast.province)).status_code == 404


def test_a_government_keys_page_is_not_for_anonymous_visitors(cast, client):
    token, _key = api_tokens.api_token_create(
        organisation=cast.municipality, name="GIS", actor=cast.municipality_staff
    )
    for response in (
        client.get(list_url(cast.municipality)),
        client.post(create_url(cast.municipality), {"name": "X"}),
        client.post(revoke_url(token)),
    ):
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    assert ApiToken.objects.get().revoked_at is None
