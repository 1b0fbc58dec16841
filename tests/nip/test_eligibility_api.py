"""POST /api/v1/nip/eligibility/: a home's answers in, its NIP group and the reasons out."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from pathlib import Path

import pytest
import time_machine
import yaml
from auditlog.models import LogEntry
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts import api_tokens
from accounts.models import Membership
from nip.models import Application, ParameterSet, ParameterValue
from nip.parameters import parameters_on
from nip.rules import Answers, eligibility
from tests import builders

URL = "/api/v1/nip/eligibility/"
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")

# Owner-occupied, label E, under the WOZ limit, income above the threshold: partial.
PARTIAL = {
    "owner_occupied": True,
    "energy_label": "E",
    "build_year": 1965,
    "dwelling_type": "terraced",
    "woz_below_limit": True,
    "income_below_threshold": False,
    "debt_relief": False,
    "date": "2023-06-01",
}


def post(client: Client, body: dict | list | None = None, **headers):
    return client.post(
        URL,
        data=json.dumps({} if body is None else body),
        content_type="application/json",
        headers=headers,
    )


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def by_code(data: dict) -> dict[str, dict]:
    return {criterion["code"]: criterion for criterion in data["criteria"]}


def stored() -> tuple[int, ...]:
    return (
        Application.objects.count(),
        ParameterSet.objects.count(),
        ParameterValue.objects.count(),
        LogEntry.objects.count(),
    )


def test_it_is_named_in_the_nip_api_namespace():
    assert reverse("nip-api:eligibility") == URL


# What it answers ----------------------------------------------------------------------------


def test_municipality_staff_get_the_group_the_money_and_every_reason(cast, login, nip):
    before = stored()
    data = ok(post(login(cast.municipality_staff), PARTIAL))
    assert data["group"] == "partial"
    assert data["eligible"] is True
    assert data["max_spend_eur"] == "4000.00"
    assert data["nip_contribution_eur"] == "1460.00"
    assert data["parameter_version"] == "nip-2023"
    assert data["estimated"] is False
    assert data["poor_elements"] == []
    assert data["missing"] == []
    results = {code: c["result"] for code, c in by_code(data).items()}
    assert results == {
        "owner_occupied": "pass",
        "poorly_insulated": "pass",
        "woz_below_limit": "pass",
        "income_below_threshold": "fail",
        "max_spend": "pass",
    }
    assert all(c["reason"] and c["missing"] == [] for c in data["criteria"])
    # It checks; it stores nothing and writes no audit entry.
    assert stored() == before


def test_income_at_or_under_the_threshold_is_the_focus_group(cast, login, nip):
    data = ok(post(login(cast.municipality_staff), {**PARTIAL, "income_below_threshold": True}))
    assert (data["group"], data["eligible"]) == ("focus", True)
    assert data["nip_contribution_eur"] == "1460.00"


def test_an_unknown_income_is_partial_and_asks_for_it(cast, login, nip):
    data = ok(post(login(cast.municipality_staff), {**PARTIAL, "income_below_threshold": None}))
    assert data["group"] == "partial"
    assert by_code(data)["income_below_threshold"]["result"] == "unknown"
    assert data["missing"] == ["income_below_threshold"]


def test_a_woz_value_above_the_limit_is_out_of_scope_without_money(cast, login, nip):
    body = {**PARTIAL, "woz_below_limit": False, "debt_relief": True}
    data = ok(post(login(cast.municipality_staff), body))
    assert (data["group"], data["eligible"]) == ("out_of_scope", False)
    assert (data["max_spend_eur"], data["nip_contribution_eur"]) == ("0.00", "0.00")
    assert by_code(data)["woz_below_limit"]["result"] == "fail"


def test_debt_relief_lifts_the_maximum(cast, login, nip):
    data = ok(post(login(cast.municipality_staff), {**PARTIAL, "debt_relief": True}))
    assert data["eligible"] is True
    assert data["max_spend_eur"] is None
    assert data["nip_contribution_eur"] == "1460.00"


def test_without_a_label_the_shell_and_build_year_decide_and_say_it_is_an_estimate(
    cast, login, nip
):
    client = login(cast.municipality_staff)
    estimated = ok(post(client, {**PARTIAL, "energy_label": None, "build_year": 1960}))
    assert estimated["group"] == "partial"
    assert estimated["estimated"] is True
    assert estimated["poor_elements"] == ["floor", "facade", "roof", "windows"]
    known = ok(
        post(
            client,
            {
                **PARTIAL,
                "energy_label": "",
                "build_year": 2005,
                "dwelling_type": "apartment",
                "shell": {"facade": "poor", "windows": "poor", "roof": "insulated"},
            },
        )
    )
    assert (known["group"], known["estimated"]) == ("partial", False)
    assert known["poor_elements"] == ["facade", "windows"]
    new = ok(post(client, {**PARTIAL, "energy_label": None, "build_year": 2000}))
    assert new["group"] == "out_of_scope"
    assert by_code(new)["poorly_insulated"]["result"] == "fail"


def test_a_label_in_lower_case_counts_and_c_is_out_of_scope(cast, login, nip):
    client = login(cast.municipality_staff)
    assert ok(post(client, {**PARTIAL, "energy_label": "g"}))["group"] == "partial"
    assert ok(post(client, {**PARTIAL, "energy_label": "c"}))["group"] == "out_of_scope"


def test_answers_left_out_are_unknown_and_listed_as_missing(cast, login, nip):
    data = ok(post(login(cast.municipality_staff), {"date": "2023-06-01"}))
    assert (data["group"], data["eligible"]) == ("out_of_scope", False)
    assert data["max_spend_eur"] == "0.00"
    assert data["missing"] == [
        "owner_occupied",
        "energy_label",
        "build_year",
        "dwelling_type",
        "shell",
        "woz_below_limit",
        "income_below_threshold",
    ]
    assert by_code(data)["owner_occupied"] == {
        "code": "owner_occupied",
        "result": "unknown",
        "reason": by_code(data)["owner_occupied"]["reason"],
        "missing": ["owner_occupied"],
    }


def test_the_parameters_of_the_date_apply_and_a_missing_amount_is_shown(cast, login, nip):
    data = ok(post(login(cast.municipality_staff), {**PARTIAL, "date": "2026-03-01"}))
    assert data["parameter_version"] == "nip-2026-1"
    assert data["group"] == "partial"
    assert data["nip_contribution_eur"] is None
    assert data["max_spend_eur"] == "4000.00"
    assert by_code(data)["nip_contribution"]["result"] == "unknown"
    assert by_code(data)["nip_contribution"]["missing"] == ["parameters.amount_per_home_eur"]
    assert data["missing"] == ["parameters.amount_per_home_eur"]


def test_without_a_date_the_parameters_of_today_in_amsterdam_apply(cast, login, nip):
    client = login(cast.municipality_staff)
    body = {key: value for key, value in PARTIAL.items() if key != "date"}
    # 23:30 on 31 December 2023 in UTC is already 1 January 2024 in Amsterdam.
    with time_machine.travel(dt.datetime(2023, 12, 31, 23, 30, tzinfo=dt.UTC), tick=False):
        data = ok(post(client, body))
    assert data["parameter_version"] == "nip-2024-1"
    with time_machine.travel(dt.datetime(2023, 12, 31, 12, 0, tzinfo=AMSTERDAM), tick=False):
        data = ok(post(client, body))
    assert data["parameter_version"] == "nip-2023"


# Bad input ------------------------------------------------------------------------------------


def test_bad_input_gets_a_message_per_field_and_no_outcome(cast, login, nip):
    before = stored()
    body = {
        "owner_occupied": "maybe",
        "energy_label": "H",
        "build_year": 999,
        "dwelling_type": "castle",
        "woz_below_limit": "perhaps",
        "income_below_threshold": [],
        "debt_relief": None,
        "shell": {"floor": "bad", "walls": "poor"},
        "date": "2024-13-01",
        "owner_ocupied": True,
    }
    response = post(login(cast.municipality_staff), body)
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {
        "owner_occupied",
        "energy_label",
        "build_year",
        "dwelling_type",
        "woz_below_limit",
        "income_below_threshold",
        "debt_relief",
        "shell",
        "date",
        # A misspelt answer is refused, not taken as "not known".
        "owner_ocupied",
    }
    shell = errors.pop("shell")
    assert set(shell) == {"floor", "walls"}
    for messages in [*errors.values(), *shell.values()]:
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(message, str) and message for message in messages)
    assert stored() == before


def test_a_misspelt_answer_is_refused_not_taken_as_unknown(cast, login, nip):
    body = {key: value for key, value in PARTIAL.items() if key != "owner_occupied"}
    response = post(login(cast.municipality_staff), {**body, "owner_ocupied": True})
    assert response.status_code == 400
    assert set(response.json()) == {"owner_ocupied"}


def test_an_unknown_shell_group_or_state_is_refused_by_name(cast, login, nip):
    client = login(cast.municipality_staff)
    response = post(client, {**PARTIAL, "shell": {"walls": "poor"}})
    assert response.status_code == 400
    assert set(response.json()["shell"]) == {"walls"}
    response = post(client, {**PARTIAL, "shell": {"floor": "bad"}})
    assert response.status_code == 400
    assert set(response.json()["shell"]) == {"floor"}


@pytest.mark.parametrize("body", [[], "owner_occupied", {"shell": ["floor"]}])
def test_a_body_of_the_wrong_shape_is_refused(cast, login, nip, body):
    response = post(login(cast.municipality_staff), body)
    assert response.status_code == 400


def test_the_build_year_may_be_next_year_but_no_later(cast, login, nip):
    client = login(cast.municipality_staff)
    with time_machine.travel(dt.datetime(2025, 6, 1, 12, tzinfo=AMSTERDAM), tick=False):
        assert ok(post(client, {**PARTIAL, "build_year": 2026}))
        response = post(client, {**PARTIAL, "build_year": 2027})
        assert response.status_code == 400
        assert "2026" in response.json()["build_year"][0]
        assert post(client, {**PARTIAL, "build_year": 1000}).status_code == 200


def test_a_date_before_the_first_parameters_is_refused_on_the_date(cast, login, nip):
    response = post(login(cast.municipality_staff), {**PARTIAL, "date": "2022-12-31"})
    assert response.status_code == 400
    assert set(response.json()) == {"date"}
    assert "31-12-2022" in response.json()["date"][0]


def test_only_post_is_allowed(cast, login, nip):
    assert login(cast.municipality_staff).get(URL).status_code == 405


# Who may ask ---------------------------------------------------------------------------------


def test_staff_of_another_municipality_and_other_initiatives_get_the_same_answer(cast, login, nip):
    # The check holds no organisation's data: B's people see the same figures and reasons
    # as A's staff, and nothing of A's programme comes into it.
    expected = ok(post(login(cast.municipality_staff), PARTIAL))
    for user in (nip.staff_b, cast.coordinator_b, cast.charlie, cast.coordinator, cast.alice):
        assert ok(post(login(user), PARTIAL)) == expected, user


@pytest.mark.parametrize("who", ["resident", "province_analyst", "admin"])
def test_people_without_a_staff_role_are_refused(cast, login, nip, who):
    response = post(login(getattr(cast, who)), PARTIAL)
    assert response.status_code == 403
    assert "group" not in response.json()


def test_a_coach_whose_membership_ended_is_refused(cast, login, nip):
    Membership.objects.filter(user=cast.alice).update(is_active=False)
    assert post(login(cast.alice), PARTIAL).status_code == 403


def test_anonymous_callers_get_a_bearer_challenge(cast, client, nip):
    response = post(client, PARTIAL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "group" not in response.json()


def test_an_initiatives_api_key_does_not_open_it(cast, nip):
    _token, key = api_tokens.api_token_create(
        organisation=cast.initiative_a, name="Website", actor=cast.coordinator
    )
    response = post(Client(), PARTIAL, Authorization=f"Bearer {key}")
    assert response.status_code == 403
    assert "group" not in response.json()


def test_a_session_needs_its_csrf_token(cast, nip):
    client = Client(enforce_csrf_checks=True)
    builders.log_in_with_second_step(client, cast.municipality_staff)
    assert post(client, PARTIAL).status_code == 403


# Language ------------------------------------------------------------------------------------


def _expected_reasons(language: str) -> dict[str, str]:
    params, _pk = parameters_on(dt.date(2023, 6, 1))
    answers = Answers(
        owner_occupied=True,
        energy_label="E",
        build_year=1965,
        dwelling_type="terraced",
        woz_below_limit=True,
        income_below_threshold=False,
    )
    with translation.override(language):
        outcome = eligibility(answers, params)
    return {criterion.code: criterion.reason for criterion in outcome.criteria}


def test_reasons_come_in_dutch_the_only_language_the_app_offers(cast, login, nip):
    # LANGUAGES holds Dutch only, so LocaleMiddleware answers in Dutch whatever the
    # browser asks for.
    data = ok(post(login(cast.municipality_staff), PARTIAL, **{"Accept-Language": "en"}))
    reasons = {code: c["reason"] for code, c in by_code(data).items()}
    assert reasons == _expected_reasons("nl")
    assert "€ 4.000" in reasons["max_spend"]


def test_reasons_follow_the_requests_language_when_the_app_offers_more(cast, login, nip, settings):
    settings.LANGUAGES = [("nl", "Nederlands"), ("en", "English")]
    client = login(cast.municipality_staff)
    english = ok(post(client, PARTIAL, **{"Accept-Language": "en"}))
    reasons = {code: c["reason"] for code, c in by_code(english).items()}
    assert reasons == _expected_reasons("en")
    assert "€ 4,000" in reasons["max_spend"]
    dutch = ok(post(client, PARTIAL, **{"Accept-Language": "nl"}))
    assert "€ 4.000" in by_code(dutch)["max_spend"]["reason"]


# The schema ----------------------------------------------------------------------------------


def test_the_schema_documents_the_check_without_api_keys(cast, login, nip):
    schema = login(cast.municipality_staff).get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "nip_eligibility"
    assert {"apiKey": []} not in operation["security"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][request.rsplit("/", 1)[-1]]["properties"]
    assert set(fields) == {
        "owner_occupied",
        "energy_label",
        "build_year",
        "dwelling_type",
        "woz_below_limit",
        "income_below_threshold",
        "debt_relief",
        "shell",
        "date",
    }


def test_it_generates_the_schema_with_the_check_without_warnings(tmp_path: Path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert "post" in schema["paths"][URL]
