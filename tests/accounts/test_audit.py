from __future__ import annotations

import pytest
from auditlog.models import LogEntry

from accounts.models import Membership
from accounts.roles import Role
from tests import builders

pytestmark = pytest.mark.django_db


def test_it_audits_who_received_which_role():
    organisation = builders.make_organisation()
    user = builders.make_user()
    membership = Membership.objects.create(user=user, organisation=organisation, role=Role.COACH)
    entry = LogEntry.objects.get_for_object(membership).get()
    assert entry.action == LogEntry.Action.CREATE
    assert entry.changes_dict["role"] == ["None", "coach"]
