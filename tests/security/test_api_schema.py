"""Schemathesis runs every operation of the OpenAPI schema as every role and anonymously.

For each person of tests/security/world.py (logged in with a session), for the API keys
of an initiative, a municipality and a province, and for nobody at all, every operation
gets generated requests, half of them about organisation 1's real objects. No answer may
be a server error, and every answer must be one the schema declares, in the declared
content type and shape. The application runs in-process (WSGI) inside the module's
transaction; each request is rolled back.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.test import Client, override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.api_tokens import api_token_create
from tests import builders
from tests.security.world import World, build_world

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 8
CSRF = "walkcsrftoken0123456789abcdefABC"  # any 32 letters and digits

# Who calls: the world's people by name, the three kinds of API key, and nobody.
CALLERS = [
    "anonymous",
    "resident",
    "resident_b",
    "coach",
    "coach_unassigned",
    "coach_b",
    "coordinator",
    "coordinator_b",
    "staff",
    "staff_b",
    "analyst",
    "admin",
    "key:initiative",
    "key:municipality",
    "key:province",
]


@dataclass
class Api:
    world: World
    schema: Any
    credentials: dict[str, dict[str, dict[str, str]]]  # caller -> headers and cookies
    # (caller, operation, status) of every request about organisation 1's real objects.
    real_answers: set[tuple[str, str, int]] = field(default_factory=set)


def _openapi() -> dict[str, Any]:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


def _session(user) -> dict[str, dict[str, str]]:
    client = builders.log_in_with_second_step(Client(), user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    # The API takes a session as the pages do, CSRF token and all.
    return {
        "cookies": {settings.SESSION_COOKIE_NAME: session, settings.CSRF_COOKIE_NAME: CSRF},
        "headers": {"X-CSRFToken": CSRF},
    }


def _key(world: World, organisation, actor: str) -> dict[str, dict[str, str]]:
    _token, key = api_token_create(
        organisation=organisation, name="Schema", actor=world.actor(actor).user
    )
    return {"cookies": {}, "headers": {"Authorization": f"Bearer {key}"}}


@pytest.fixture(scope="module")
def api(django_db_setup, django_db_blocker) -> Iterator[Api]:
    """One world for the module, the WSGI application in-process, all rolled back."""
    # Django closes the connection at the end of a request; in-process, inside the test's
    # transaction, that would throw the world away (the test client does the same).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        with (
            django_db_blocker.unblock(),
            tempfile.TemporaryDirectory() as folder,
            override_settings(
                MEDIA_ROOT=str(Path(folder) / "media"),
                PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
                ALLOWED_HOSTS=["*"],
            ),
            transaction.atomic(),
        ):
            world = build_world()
            credentials = {"anonymous": {"cookies": {}, "headers": {}}}
            for actor in world.actors:
                if actor.user is not None:
                    credentials[actor.name] = _session(actor.user)
            credentials["key:initiative"] = {
                "cookies": {},
                "headers": {"Authorization": f"Bearer {world.token_key}"},
            }
            credentials["key:municipality"] = _key(world, world.municipality_a, "staff")
            credentials["key:province"] = _key(world, world.province, "analyst")
            schema = schemathesis.openapi.from_dict(_openapi())
            schema.app = WSGIHandler()
            yield Api(world=world, schema=schema, credentials=credentials)
            transaction.set_rollback(True)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _connection_kept():
    """Each test starts with the connection kept open across requests again: the test
    client connects `close_old_connections` anew after every request it makes, and the
    next in-process call would then close the module's connection mid-transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield


def _real_path_parameters(world: World, path: str) -> dict[str, Any]:
    """Organisation 1's objects for the operation's path parameters."""
    params: dict[str, Any] = {}
    objects = {
        "/api/v1/dossiers/": world.household_a.dossier,
        "/api/v1/cases/": world.case,
        "/api/v1/households/": world.household_a,
        "/api/v1/visits/": world.visit,
        "/api/v1/tasks/": world.task,
    }
    for name in ("id", "pk"):
        if f"{{{name}}}" in path:
            for prefix, obj in objects.items():
                if path.startswith(prefix):
                    params[name] = obj.pk
    if "{section}" in path:
        params["section"] = "house"
    if "{level}" in path:
        params["level"] = "pc6"
    return params


def _operations(schema) -> list[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: op.label)


def _run(api: Api, operation, caller: str) -> str | None:
    """Run generated requests of one operation; the first failure's report, or None."""
    credentials = api.credentials[caller]
    strategies = [operation.as_strategy()]
    real = _real_path_parameters(api.world, operation.path)
    if real:
        strategies.append(operation.as_strategy(path_parameters=real))

    @given(case=st.one_of(strategies))
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        if credentials["cookies"]:
            # A generated API key would be refused before the session is looked at.
            case.headers.pop("Authorization", None)
        with transaction.atomic():
            try:
                response = case.call_and_validate(
                    headers=credentials["headers"],
                    cookies=credentials["cookies"],
                    checks=CHECKS,
                )
            finally:
                transaction.set_rollback(True)
        if real and case.path_parameters == real:
            api.real_answers.add((caller, operation.label, response.status_code))

    try:
        check()
    except (Exception, BaseExceptionGroup) as failure:  # every failure is collected
        return f"{operation.label} as {caller}:\n{failure}"
    return None


def test_the_schema_has_every_api_operation(api):
    labels = {op.label for op in _operations(api.schema)}
    assert len(labels) >= 20, labels
    assert "GET /api/v1/dossiers/{id}/" in labels


@pytest.mark.parametrize("caller", CALLERS)
def test_every_operation_answers_as_the_schema_says(api, caller):
    failures = [
        report for op in _operations(api.schema) if (report := _run(api, op, caller)) is not None
    ]
    assert not failures, "\n\n".join(failures)


def test_the_run_reached_real_objects_and_was_refused_elsewhere(api):
    """After the run above: the generated requests did meet organisation 1's objects."""
    if not any(caller == "coordinator" for caller, _op, _status in api.real_answers):
        pytest.skip("runs after test_every_operation_answers_as_the_schema_says")
    answers = api.real_answers
    assert ("coordinator", "GET /api/v1/cases/{id}/", 200) in answers
    assert ("coach", "GET /api/v1/dossiers/{id}/", 200) in answers
    assert ("key:initiative", "GET /api/v1/households/{id}/", 200) in answers
    assert ("coordinator_b", "GET /api/v1/cases/{id}/", 404) in answers
    assert ("coach_unassigned", "GET /api/v1/dossiers/{id}/", 404) in answers
    assert not any(
        status < 300 for caller, _op, status in answers if caller in ("anonymous", "resident_b")
    )


def _client_of(api: Api, caller: str) -> Client:
    client = Client()
    for name, value in api.credentials[caller]["cookies"].items():
        client.cookies[name] = value
    return client


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/tasks/?assignee={2**70}",
        f"/api/v1/tasks/?case={2**70}",
        f"/api/v1/visits/?case={2**70}",
        f"/api/v1/dossiers/?initiative={2**70}",
        f"/api/v1/cases/?household={2**70}",
    ],
)
def test_an_id_too_large_for_the_database_is_bad_input(api, url):
    with transaction.atomic():
        response = _client_of(api, "coordinator").get(url)
        transaction.set_rollback(True)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url", [f"/api/v1/cases/{2**70}/", f"/api/v1/dossiers/{2**70}/", f"/huishoudens/{2**70}/"]
)
def test_an_object_id_too_large_for_the_database_is_not_found(api, url):
    with transaction.atomic():
        response = _client_of(api, "coordinator").get(url)
        transaction.set_rollback(True)
    assert response.status_code == 404


# The steps whose input the schema describes in full: whatever it allows is taken, or
# refused for the case's or visit's state (409), never turned away as bad input (400).
STEPS = [
    "POST /api/v1/cases/{id}/transition/",
    "POST /api/v1/cases/{id}/visits/",
    "POST /api/v1/visits/{id}/done/",
]
STEP_EXAMPLES = 40


@pytest.mark.parametrize("caller", ["coordinator", "coach", "key:initiative"])
@pytest.mark.parametrize("label", STEPS)
def test_input_the_schema_allows_is_never_refused_as_bad_input(api, label, caller):
    """Schemathesis's positive-data check: schema-valid requests about organisation 1's
    real case and visit, as the people who may take the step."""
    (operation,) = [op for op in _operations(api.schema) if op.label == label]
    credentials = api.credentials[caller]
    real = _real_path_parameters(api.world, operation.path)
    statuses: set[int] = set()

    @given(
        case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real)
    )
    @hypothesis_settings(
        max_examples=STEP_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        if credentials["cookies"]:
            case.headers.pop("Authorization", None)
        with transaction.atomic():
            try:
                response = case.call_and_validate(
                    headers=credentials["headers"],
                    cookies=credentials["cookies"],
                    checks=[*CHECKS, positive_data_acceptance],
                )
            finally:
                transaction.set_rollback(True)
        statuses.add(response.status_code)

    check()
    # The requests reached the step itself: the case has a planned visit that lies in the
    # future, so planning another or marking this one done is refused for its state.
    assert 409 in statuses, statuses
    assert 400 not in statuses
