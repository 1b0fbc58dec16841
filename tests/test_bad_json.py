"""Bad JSON is bad input: a 400 with a message on every JSON endpoint, never a 500.

Every operation of the OpenAPI schema that takes a JSON body gets 50,000 levels of
nesting, as each kind of caller; a new endpoint is covered as soon as it is in the schema.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import BadRequest
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls import path as url_path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework.views import APIView

from config import json_input, urls
from tests import builders
from tests.security.world import World, build_world

pytestmark = pytest.mark.django_db

DEPTH = 50_000
DEEP_BODIES = {
    "array": "[" * DEPTH + "]" * DEPTH,
    "object": '{"a":' * DEPTH + "1" + "}" * DEPTH,
}
WRITE_METHODS = ("post", "put", "patch")


def send(client: Client, method: str, url: str, body: Any, **kwargs: Any) -> HttpResponse:
    """One request in its own savepoint, as each real request has its own transaction.

    DRF marks the open transaction for rollback when it answers an error; outside a
    request transaction (the calculation API has none) that would be the test's.
    """
    with transaction.atomic():
        return getattr(client, method)(url, body, **kwargs)


def _json_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the schema that takes a JSON body."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    schema = json.loads(OpenApiJsonRenderer().render(generated))
    operations = []
    for path, item in schema["paths"].items():
        for method in WRITE_METHODS:
            body = item.get(method, {}).get("requestBody", {})
            if "application/json" in body.get("content", {}):
                operations.append((method, path))
    return sorted(operations)


def _fill(world: World, path: str) -> str:
    """The path with organisation 1's real objects, so a caller gets as far as the body."""
    objects = {
        "/api/v1/dossiers/": world.household_a.dossier,
        "/api/v1/cases/": world.case,
        "/api/v1/households/": world.household_a,
        "/api/v1/visits/": world.visit,
        "/api/v1/tasks/": world.task,
    }
    for prefix, obj in objects.items():
        if path.startswith(prefix):
            path = path.replace("{id}", str(obj.pk)).replace("{pk}", str(obj.pk))
    path = path.replace("{section}", "house").replace("{level}", "pc6")
    assert "{" not in path, f"no object for the parameters of {path}: add one to _fill"
    return path


@pytest.fixture
def world(settings) -> World:
    settings.ALLOWED_HOSTS = ["*"]
    return build_world()


@pytest.fixture
def callers(world: World) -> dict[str, Client]:
    """Nobody, the people who may write through the API, and an initiative's key."""
    clients = {"anonymous": Client(raise_request_exception=False)}
    for name in ("coordinator", "coach", "staff", "admin"):
        client = Client(raise_request_exception=False)
        clients[name] = builders.log_in_with_second_step(client, world.actor(name).user)
    clients["key:initiative"] = Client(
        raise_request_exception=False, headers={"Authorization": f"Bearer {world.token_key}"}
    )
    return clients


def test_it_finds_the_json_operations_it_walks():
    operations = _json_operations()
    paths = {path for _method, path in operations}
    # The anonymous calculation API and the CRM's and dossier's writes are among them.
    assert "/api/v1/advice/calculate/" in paths
    assert "/api/v1/cases/open/" in paths
    assert "/api/v1/dossiers/{id}/sections/{section}/" in paths
    assert len(operations) >= 8


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
def test_every_json_endpoint_answers_deep_nesting_with_400_and_logs_no_error(
    world, callers, caplog, shape
):
    body = DEEP_BODIES[shape]
    refused: dict[str, list[str]] = {}
    for method, path in _json_operations():
        url = _fill(world, path)
        for name, client in callers.items():
            caplog.clear()
            with caplog.at_level(logging.INFO):
                response = send(client, method, url, body, content_type="application/json")
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert errors == [], (method, url, name, [r.getMessage() for r in errors])
            assert response.status_code < 500, (method, url, name, response.status_code)
            if response.status_code == 400:
                detail = response.json()["detail"]
                assert str(json_input.MAX_DEPTH) in detail, (method, url, name, detail)
                refused.setdefault(f"{method} {path}", []).append(name)
    missing = {f"{m} {p}" for m, p in _json_operations()} - set(refused)
    # Every operation read the body for at least one caller allowed to call it.
    assert missing == set(), missing


def _drf_views(patterns: list[Any]) -> Iterator[type]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _drf_views(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "cls", None)
            if view is not None and issubclass(view, APIView):
                yield view


def test_every_api_view_reads_json_with_the_bounded_parser():
    # Also the views the schema leaves out, and those that take no body today.
    views = set(_drf_views(get_resolver().url_patterns))
    assert len(views) >= 15
    for view in views:
        parsers = view().get_parsers()
        json_parsers = [p for p in parsers if "json" in (p.media_type or "")]
        assert all(isinstance(p, json_input.JsonParser) for p in json_parsers), view


def test_the_anonymous_calculation_api_refuses_deep_json_with_a_dutch_message(client):
    response = send(
        client,
        "post",
        "/api/v1/advice/calculate/",
        DEEP_BODIES["array"],
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "te diep genest" in response.json()["detail"]


def test_nesting_just_past_the_limit_is_refused_and_just_within_it_is_read(client):
    def nested(levels: int) -> str:
        return "[" * levels + "]" * levels

    too_deep = send(
        client,
        "post",
        "/api/v1/advice/calculate/",
        nested(json_input.MAX_DEPTH + 1),
        content_type="application/json",
    )
    assert too_deep.status_code == 400
    assert str(json_input.MAX_DEPTH) in too_deep.json()["detail"]
    # Within the limit the body is read, and the serializer says what is wrong with it.
    within = send(
        client,
        "post",
        "/api/v1/advice/calculate/",
        nested(json_input.MAX_DEPTH),
        content_type="application/json",
    )
    assert within.status_code == 400
    assert str(json_input.MAX_DEPTH) not in json.dumps(within.json())


def test_broken_json_is_a_400_with_a_message(client):
    response = send(
        client, "post", "/api/v1/advice/calculate/", '{"a": [1, 2', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"]


def test_an_oversized_api_body_is_a_413_with_a_message(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"padding": "x" * 2048})
    response = send(
        client, "post", "/api/v1/advice/calculate/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert "1024" not in response.json()["detail"]  # said in megabytes, not bytes
    assert "te groot" in response.json()["detail"]


def test_an_oversized_form_body_on_a_page_is_a_413_with_a_message(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = send(
        client, "post", "/accounts/login/", {"login": "x" * 2048, "password": "y"}, follow=False
    )
    assert response.status_code == 413
    assert "te groot" in response.content.decode()


def _json_request(body: str | bytes) -> Any:
    return RequestFactory().post("/somewhere/", body, content_type="application/json")


def test_the_helper_for_plain_views_reads_json_and_refuses_deep_or_broken_json():
    assert json_input.request_json(_json_request('{"a": [1, {"b": 2}]}')) == {"a": [1, {"b": 2}]}
    for body in [*DEEP_BODIES.values(), "[" * 65 + "]" * 65, "{nope", b"\xff\xfe"]:
        with pytest.raises(BadRequest) as refused:
            json_input.request_json(_json_request(body))
        assert str(refused.value)


def _echo(request: HttpRequest) -> JsonResponse:
    """A plain Django view that reads a JSON body the way such views should."""
    return JsonResponse({"read": json_input.request_json(request)})


class EchoUrls:
    urlpatterns = [*urls.urlpatterns, url_path("echo/", _echo)]
    handler400 = urls.handler400
    handler500 = urls.handler500


def test_a_plain_view_that_uses_the_helper_answers_400_and_logs_no_error(client, caplog):
    with override_settings(ROOT_URLCONF=EchoUrls), caplog.at_level(logging.INFO):
        fine = send(client, "post", "/echo/", '{"a": 1}', content_type="application/json")
        deep = send(
            client,
            "post",
            "/echo/",
            DEEP_BODIES["object"],
            content_type="application/json",
            headers={"Accept": "application/json"},
        )
    assert fine.json() == {"read": {"a": 1}}
    assert deep.status_code == 400
    assert str(json_input.MAX_DEPTH) in deep.json()["detail"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
