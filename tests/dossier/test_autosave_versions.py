"""What the topic form tells static/js/autosave.js: the version its answers were typed
against, and after a save the version that save stored. The script keeps a copy on the
device with that version and only ever sends it with it."""

from __future__ import annotations

import re

import pytest

from tests.dossier.test_dossier_pages import form_data, reload, step, version

pytestmark = pytest.mark.django_db


def form_tag(html: str) -> str:
    match = re.search(r"<form id=\"form-energy\"[^>]*>", html)
    assert match, "no topic form in the answer"
    return match.group(0)


def test_the_page_says_which_version_its_answers_are_typed_against(cast, login):
    login(cast.alice).post(
        step(cast.household_a, "energy"), form_data(cast.household_a, "energy", occupants="2")
    )
    response = login(cast.resident).get(step(cast.household_a, "energy"))
    tag = form_tag(response.text)
    assert 'data-base-version="1"' in tag
    assert "data-conflict" not in tag and "data-saved-version" not in tag
    # The offer for text kept against an older version is there, hidden, in Dutch.
    assert "Uw niet-opgeslagen tekst" in response.text
    assert "Mijn tekst gebruiken" in response.text and "Opgeslagen versie houden" in response.text


def test_a_conflict_keeps_the_older_version_as_the_base_of_the_typed_answers(cast, login):
    stale = form_data(cast.household_a, "energy", occupants="4")
    login(cast.alice).post(
        step(cast.household_a, "energy"), form_data(cast.household_a, "energy", occupants="2")
    )
    response = login(cast.resident).post(
        step(cast.household_a, "energy"), stale, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    tag = form_tag(response.text)
    # Sent again only by "Save my version", with the version stored now; the copy on the
    # device stays marked as typed against version 0.
    assert 'data-base-version="0"' in tag and "data-conflict" in tag
    assert 'name="s-energy-version" value="1"' in response.text
    assert reload(cast.household_a).occupants == 2


def test_a_save_tells_the_version_it_stored(cast, login):
    data = form_data(cast.household_a, "energy", occupants="3")
    response = login(cast.resident).post(
        step(cast.household_a, "energy"), data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    tag = form_tag(response.text)
    assert version(cast.household_a, "energy") == 1
    assert 'data-saved-version="1"' in tag and 'data-base-version="1"' in tag
