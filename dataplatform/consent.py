"""Consent per purpose: which text is in force, giving, withdrawing, and the status of a home.

Records are append-only (models.ConsentRecord): giving writes a new row, withdrawing
fills the withdrawal fields of the active row once, and nothing is ever deleted. Every
write locks the household row first, so a double submit or a second tab waits for the
first and then finds its work done; the database's one-active-row constraint backs this
up where the lock cannot (SQLite ignores SELECT ... FOR UPDATE).

A resident records their own choice online; the assigned coach and the initiative's
coordinator record a choice made on paper, by phone or by e-mail on the resident's
behalf. Whatever is recorded counts from the next publication on: publications read the
active records when they are made, so nothing else has to happen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import access
from accounts.access import Action
from accounts.roles import Role
from dataplatform.models import Channel, ConsentRecord, ConsentText, Purpose
from dossier.models import Household

if TYPE_CHECKING:
    from accounts.models import User

# What staff may choose when they record a choice made outside the website.
STAFF_CHANNELS: tuple[str, ...] = (Channel.PAPER, Channel.PHONE, Channel.EMAIL)


@dataclass(frozen=True)
class PurposeStatus:
    """One purpose on a household's consent page: the text and what the household chose."""

    purpose: str
    label: str
    text: ConsentText | None
    active: ConsentRecord | None
    last_withdrawn: ConsentRecord | None
    # Every record for this purpose, newest first.
    history: list[ConsentRecord] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.active is not None:
            return "given"
        if self.last_withdrawn is not None:
            return "withdrawn"
        return "not_given"


def consent_texts_in_force(now: dt.datetime | None = None) -> dict[str, ConsentText]:
    """Per purpose, the text with the latest `valid_from` at or before `now`."""
    now = now or timezone.now()
    texts: dict[str, ConsentText] = {}
    for text in ConsentText.objects.filter(valid_from__lte=now).order_by("purpose", "-valid_from"):
        texts.setdefault(text.purpose, text)
    return texts


def acts_as_resident(user: User, household: Household) -> bool:
    """True when the user records their own choice (online) rather than on someone's behalf."""
    return not access.is_staff_viewer(user, residents=household.residents.all())


def _check(*, household: Household, purpose: str, channel: str, actor: User) -> None:
    if not access.allows(actor, household, Action.CHANGE):
        raise PermissionDenied
    if purpose not in Purpose.values:
        raise ValidationError(_("Choose what the consent is for."), code="purpose")
    if acts_as_resident(actor, household):
        if channel != Channel.ONLINE:
            raise ValidationError(_("You record your own choice online."), code="channel")
    elif channel not in STAFF_CHANNELS:
        raise ValidationError(
            _("Choose how the resident told you: on paper, by phone or by e-mail or letter."),
            code="channel",
        )


def _active(household: Household, purpose: str) -> ConsentRecord | None:
    return (
        ConsentRecord.objects.filter(
            household=household, purpose=purpose, withdrawn_at__isnull=True
        )
        .select_related("text")
        .first()
    )


def _lock(household: Household) -> None:
    # One writer per household at a time: a second submit waits here and then sees the
    # first one's row.
    Household.objects.select_for_update().only("pk").get(pk=household.pk)


@transaction.atomic
def consent_give_or_get(
    *,
    household: Household,
    purpose: str,
    channel: str,
    actor: User,
    now: dt.datetime | None = None,
) -> tuple[ConsentRecord, bool]:
    """Give consent for a purpose; returns the active record and whether it is new."""
    _check(household=household, purpose=purpose, channel=channel, actor=actor)
    now = now or timezone.now()
    _lock(household)
    active = _active(household, purpose)
    if active is not None:
        return active, False
    text = consent_texts_in_force(now).get(purpose)
    if text is None:
        raise ValidationError(
            _("There is no consent text for this yet, so consent cannot be given."),
            code="no_text",
        )
    try:
        # A savepoint: a lost race must not break the caller's (the request's) transaction.
        with transaction.atomic():
            record = ConsentRecord.objects.create(
                household=household,
                purpose=purpose,
                text=text,
                given_at=now,
                channel=channel,
                recorded_by=actor,
            )
    except IntegrityError:
        active = _active(household, purpose)
        if active is None:
            raise
        return active, False
    return record, True


def consent_give(
    *,
    household: Household,
    purpose: str,
    channel: str,
    actor: User,
    now: dt.datetime | None = None,
) -> ConsentRecord:
    """Give consent for a purpose; when it is already active, the active record unchanged."""
    return consent_give_or_get(
        household=household, purpose=purpose, channel=channel, actor=actor, now=now
    )[0]


@transaction.atomic
def consent_withdraw(
    *,
    household: Household,
    purpose: str,
    channel: str,
    actor: User,
    now: dt.datetime | None = None,
) -> ConsentRecord | None:
    """Withdraw the active consent for a purpose; None when none was active."""
    _check(household=household, purpose=purpose, channel=channel, actor=actor)
    now = now or timezone.now()
    _lock(household)
    record = _active(household, purpose)
    if record is None:
        return None
    if now < record.given_at:
        raise ValidationError(
            _("Consent cannot be withdrawn before it was given."), code="withdrawn_before"
        )
    record.withdrawn_at = now
    record.withdrawal_channel = channel
    record.withdrawn_by = actor
    record.save(update_fields=["withdrawn_at", "withdrawal_channel", "withdrawn_by"])
    return record


def consent_status(household: Household, *, now: dt.datetime | None = None) -> list[PurposeStatus]:
    """Per purpose: the text in force, the active record or the last withdrawn one, the history."""
    texts = consent_texts_in_force(now)
    records = list(
        ConsentRecord.objects.filter(household=household)
        .select_related("text", "recorded_by", "withdrawn_by")
        .order_by("-given_at", "-pk")
    )
    result = []
    for purpose in Purpose:
        history = [record for record in records if record.purpose == purpose.value]
        active = next((record for record in history if record.is_active), None)
        withdrawn = [record for record in history if not record.is_active]
        last_withdrawn = (
            max(withdrawn, key=lambda record: (record.withdrawn_at, record.pk))
            if withdrawn
            else None
        )
        result.append(
            PurposeStatus(
                purpose=purpose.value,
                label=purpose.label,
                text=texts.get(purpose.value),
                active=active,
                last_withdrawn=last_withdrawn,
                history=history,
            )
        )
    return result


# The coordinator's overview ----------------------------------------------------------------


def coordinated_initiatives(user: User) -> list[int]:
    return access.organisations_with_role(user, {Role.COORDINATOR})


def consent_counts(*, initiative_ids: Iterable[int]) -> dict[str, int]:
    """Per purpose, how many households of these initiatives have an active consent."""
    rows = (
        ConsentRecord.objects.filter(
            household__initiative_id__in=list(initiative_ids), withdrawn_at__isnull=True
        )
        .values("purpose")
        .annotate(households=Count("household", distinct=True))
    )
    counts = dict.fromkeys(Purpose.values, 0)
    counts.update({row["purpose"]: row["households"] for row in rows})
    return counts


def consent_states(households: Iterable[Household]) -> dict[int, dict[str, str]]:
    """Per household id and purpose: "given", "withdrawn" or "not_given", in one query."""
    ids = [household.pk for household in households]
    states: dict[int, dict[str, str]] = {
        pk: dict.fromkeys(Purpose.values, "not_given") for pk in ids
    }
    rows = ConsentRecord.objects.filter(household_id__in=ids).values_list(
        "household_id", "purpose", "withdrawn_at"
    )
    for household_id, purpose, withdrawn_at in rows:
        if withdrawn_at is None:
            states[household_id][purpose] = "given"
        elif states[household_id][purpose] == "not_given":
            states[household_id][purpose] = "withdrawn"
    return states
