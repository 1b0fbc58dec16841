"""What the audit log keeps of personal data: that it changed, never what it says.

Before an auditlog entry is stored, for a model that holds personal data (by
privacy.register), its representation becomes "<model> <id>" (auditlog would store
`str(obj)`: a household's name, a dwelling's address) and the old and new values of
each personal or special field become "***". Which fields changed, who changed them and
when stay readable for the auditor.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from privacy.register import REGISTER, DataClass

MASK = "***"
PERSONAL = (DataClass.PERSONAL, DataClass.SPECIAL)


@functools.cache
def personal_fields(label: str) -> frozenset[str]:
    # Every audited save asks; the register does not change while the process runs.
    entry = REGISTER.get(label)
    if entry is None:
        return frozenset()
    return frozenset(name for name, kind in entry.classes().items() if kind in PERSONAL)


def _masked(changes: dict[str, Any], personal: frozenset[str]) -> dict[str, Any]:
    masked = dict(changes)
    for name, change in changes.items():
        if name not in personal:
            continue
        if isinstance(change, dict):  # a many-to-many change lists the objects
            masked[name] = {**change, "objects": [MASK]}
        else:
            masked[name] = [MASK, MASK]
    return masked


def mask_entry(sender: Any, instance: Any, **kwargs: Any) -> None:
    """pre_save of auditlog's LogEntry."""
    model = instance.content_type.model_class() if instance.content_type_id else None
    if model is None:
        return
    personal = personal_fields(model._meta.label)
    if not personal:
        return
    instance.object_repr = f"{model._meta.model_name} {instance.object_pk}"
    if isinstance(instance.changes, dict):
        instance.changes = _masked(instance.changes, personal)
    if instance.changes_text:
        try:
            changes = json.loads(instance.changes_text)
        except ValueError:
            changes = None
        if isinstance(changes, dict):
            instance.changes_text = json.dumps(_masked(changes, personal))
        else:
            instance.changes_text = MASK
    if instance.serialized_data is not None:
        instance.serialized_data = None
