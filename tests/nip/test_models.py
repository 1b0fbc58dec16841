"""The NIP's tables hold what the rules need, and refuse what would break them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from nip.models import Application, BudgetLine, ParameterSet
from nip.parameters import KEYS
from tests.nip.builders import make_application


def test_every_seeded_set_holds_every_key(nip_parameters):
    for parameter_set in ParameterSet.objects.all():
        keys = set(parameter_set.values.values_list("key", flat=True))
        assert keys == set(KEYS), parameter_set.version


def test_a_figure_nobody_found_is_left_empty_not_invented(nip_parameters):
    later = ParameterSet.objects.get(version="nip-2026-1")
    assert later.values.get(key="amount_per_home_eur").value is None
    assert later.values.get(key="income_norm.single_eur").value is None
    first = ParameterSet.objects.get(version="nip-2023")
    assert first.values.get(key="amount_per_home_eur").value == Decimal("1460")


def test_one_open_application_per_home_and_programme(nip):
    first = make_application(nip.programme)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_application(nip.programme, dwelling=first.dwelling)
    first.status = "withdrawn"
    first.save()
    again = make_application(nip.programme, dwelling=first.dwelling)
    assert Application.objects.filter(dwelling=first.dwelling).count() == 2
    assert again.status == "intake"


def test_the_state_never_funds_a_budget_line(nip):
    with pytest.raises(IntegrityError), transaction.atomic():
        BudgetLine.objects.create(programme=nip.programme, source="isde", amount_eur=1)
