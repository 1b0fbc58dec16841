"""A rate of API calls per caller: per key and per person, counted under ids only."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.exceptions import Throttled

from accounts import api_tokens
from accounts.throttling import ApiCallerThrottle

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"


@pytest.fixture(autouse=True)
def three_a_minute(settings):
    # The counts live in the cache; each test starts with a clean count and a small rate.
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "api": "3/minute",
            "api-organisation": "100/minute",
        },
    }
    yield
    cache.clear()


def key_client(cast, name: str) -> Client:
    _token, key = api_tokens.api_token_create(
        organisation=cast.initiative_a, name=name, actor=cast.coordinator
    )
    return Client(headers={"Authorization": f"Bearer {key}"})


def test_a_key_past_its_rate_is_told_to_wait_and_another_key_is_not(cast):
    website, dashboard = key_client(cast, "Website"), key_client(cast, "Dashboard")
    statuses = [website.get(CASES).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = website.get(CASES)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert dashboard.get(CASES).status_code == 200


def test_more_keys_of_one_organisation_buy_no_more_calls_than_its_own_rate(cast, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "api-organisation": "5/minute"},
    }
    first, second = key_client(cast, "Website"), key_client(cast, "Website 2")
    assert [first.get(CASES).status_code for _ in range(3)] == [200] * 3
    assert [second.get(CASES).status_code for _ in range(3)] == [200, 200, 429]
    # Another organisation's key has its own allowance.
    _token, key = api_tokens.api_token_create(
        organisation=cast.initiative_b, name="Website", actor=cast.coordinator_b
    )
    assert Client(headers={"Authorization": f"Bearer {key}"}).get(CASES).status_code == 200


def test_a_key_stuck_past_its_own_rate_leaves_the_organisations_allowance_alone(cast, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "api-organisation": "5/minute"},
    }
    looping, other = key_client(cast, "Koppeling"), key_client(cast, "Website")
    assert [looping.get(CASES).status_code for _ in range(6)] == [200] * 3 + [429] * 3
    # Only the 3 calls served count for the organisation: 2 are left for the other key.
    assert [other.get(CASES).status_code for _ in range(3)] == [200, 200, 429]


def test_a_person_past_the_rate_is_told_to_wait_in_dutch_and_another_person_is_not(cast, login):
    coordinator = login(cast.coordinator)
    statuses = [coordinator.get(CASES).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # DRF's own message, in the interface's language.
    detail = coordinator.get(CASES).json()["detail"]
    assert str(Throttled.default_detail) in detail and "throttled" not in detail
    coach = Client()
    coach.force_login(cast.alice, backend="django.contrib.auth.backends.ModelBackend")
    assert coach.get(CASES).status_code == 200


def test_the_count_is_kept_under_an_id_and_never_under_anything_personal(cast, rf):
    token, _key = api_tokens.api_token_create(
        organisation=cast.initiative_a, name="Website", actor=cast.coordinator
    )
    request = rf.get(CASES)
    request.user = cast.coordinator
    request.auth = None
    assert ApiCallerThrottle().get_cache_key(request, None) == (
        f"throttle_api_user-{cast.coordinator.pk}"
    )
    request.auth = token
    assert ApiCallerThrottle().get_cache_key(request, None) == f"throttle_api_key-{token.pk}"


def test_a_caller_without_credentials_gets_its_401_and_never_a_429(client):
    assert [client.get(CASES).status_code for _ in range(5)] == [401] * 5


def test_the_schema_says_every_operation_may_answer_429(cast, login):
    schema = login(cast.coordinator).get("/api/v1/schema/", {"format": "json"}).json()
    operations = [
        operation
        for path in schema["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "responses" in operation
    ]
    assert len(operations) > 10
    assert all("429" in operation["responses"] for operation in operations)
    # The default hook still runs: it names the enums as ENUM_NAME_OVERRIDES says.
    assert "CaseStatusEnum" in schema["components"]["schemas"]
