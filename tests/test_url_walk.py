"""Walk every URL pattern anonymously: nothing outside the public allow-list answers 200."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

pytestmark = pytest.mark.django_db

# Pages a visitor without a login may see. Every other page must redirect to the login,
# refuse, or not be found.
PUBLIC = {
    "home",
    "health",
    # Readiness: anonymous on purpose, answers only "ok"/"unavailable" per part.
    "ready",
    "account_login",
    "account_signup",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_email_verification_sent",
    "account_confirm_email",
    "account_request_login_code",
    "account_inactive",
    # The public quick scan: anonymous on purpose, POST only (GET answers 405).
    "dossier-api:advice-calculate",
}

SAMPLE = {
    "int": "1",
    "slug": "energie-a",
    "str": "x",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "path": "x",
}


def _route_sample(route: str) -> str:
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLE.get(m.group(1) or "str", "1"), route)


def _regex_sample(regex: str) -> str:
    regex = regex.lstrip("^").rstrip("$").replace(r"\Z", "")

    def group(m: re.Match[str]) -> str:
        body = m.group(2)
        if re.fullmatch(r"[\w|]+", body):
            return body.split("|")[0]
        return "1"

    sample = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", group, regex)
    sample = re.sub(r"\(\?:[^()]*\)\??", "", sample)
    return sample.replace("\\", "").replace("?", "")


def _sample(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return _route_sample(str(pattern._route))
    if isinstance(pattern, RegexPattern):
        return _regex_sample(pattern._regex)
    return str(pattern)


def walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + _sample(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield name, "/" + prefix + _sample(entry.pattern)


ALL_URLS = sorted(set(walk(get_resolver().url_patterns)), key=lambda t: t[1])


def test_it_finds_every_name_in_the_allow_list():
    names = {name for name, _ in ALL_URLS}
    assert names >= PUBLIC, PUBLIC - names


def test_it_walks_a_meaningful_number_of_urls():
    assert len(ALL_URLS) > 40


@pytest.mark.parametrize(("name", "url"), ALL_URLS, ids=[u for _, u in ALL_URLS])
def test_it_answers_200_anonymously_only_on_public_pages(client, name, url):
    response = client.get(url)
    if response.status_code == 200:
        assert name in PUBLIC, f"{url} ({name}) is public but not on the allow-list"
    else:
        assert response.status_code in {301, 302, 400, 401, 403, 404, 405}, (
            url,
            response.status_code,
        )


@pytest.mark.parametrize("who", ["coordinator", "resident"])
def test_no_page_a_logged_in_person_sees_is_kept_by_the_browser(cast, login, who):
    client = login(getattr(cast, who))
    shown = 0
    for name, url in ALL_URLS:
        if name == "account_logout":
            continue
        # Each request in its own savepoint, as each real request has its own transaction:
        # a refused database write in one page must not abort the test's transaction.
        with transaction.atomic():
            response = client.get(url)
        if response.status_code != 200:
            continue
        shown += 1
        assert "no-store" in response.get("Cache-Control", ""), (url, name)
    # The walk reached real pages (the cast's first household and dossier have id 1).
    assert shown > 10
