"""API keys: how another system acts for one initiative on the CRM API.

A key is "wd_" and 43 random URL-safe characters (256 bits). Only its SHA-256 is stored,
with its first characters for people to tell keys apart; the key itself is shown once,
when it is made, and never logged or put in a URL.

A key is no person. It maps onto the models' access policies (`accounts.access.Policy`)
as a coordinator of its organisation and nothing more: whatever a coordinator of that
initiative may do to a row, the key may do, and no other organisation's rows exist for
it. It does not borrow the access of the coordinator who made it, so it neither gains
reach when that person gets another role, nor stops working when they leave. Only API
views whose permission admits keys let one in (crm/api.py); everywhere else a request
with a key has no user and is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import access
from accounts.access import Action
from accounts.models import ApiToken, Organisation
from accounts.roles import Role

if TYPE_CHECKING:
    from accounts.models import User

KEY_PREFIX = "wd_"
# The random part: 32 bytes, 43 characters in URL-safe base64.
KEY_BYTES = 32
# How much of the random part the list shows after "wd_": 48 bits, far too few to guess
# the other 208 from.
SHOWN_CHARACTERS = 8
# A header longer than any key is refused before it is hashed.
KEY_MAX_LENGTH = 64
# last_used_at is written at most this often per key: every call writing it would make
# each read a write, and on SQLite take the one write lock.
LAST_USED_STEP = dt.timedelta(minutes=1)
# What a key may do in its organisation.
ROLE = Role.COORDINATOR


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# Making and revoking keys ----------------------------------------------------------------


def api_token_create(
    *,
    organisation: Organisation,
    name: str,
    actor: User,
    expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Make a key for the initiative; returns the row and the key, which is not kept anywhere."""
    now = now or timezone.now()
    if organisation.kind != Organisation.Kind.INITIATIVE:
        raise ValueError("only an initiative has a CRM to reach")
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the key a name.")}, code="name")
    if expires_at is not None and expires_at <= now:
        raise ValidationError(
            {"expires_at": _("Choose a date in the future.")}, code="expires_past"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    token = ApiToken.objects.create(
        organisation=organisation,
        name=name[: ApiToken._meta.get_field("name").max_length],
        prefix=key[: len(KEY_PREFIX) + SHOWN_CHARACTERS],
        key_hash=key_hash(key),
        created_by=actor,
        expires_at=expires_at,
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, now: dt.datetime | None = None) -> ApiToken:
    """Stop the key working at once; revoking twice keeps the first time.

    save() rather than update(): the audit log records who revoked it (the request's user).
    """
    locked = ApiToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is None:
        locked.revoked_at = now or timezone.now()
        locked.save(update_fields=["revoked_at"])
    token.revoked_at = locked.revoked_at
    return locked


# Checking a key --------------------------------------------------------------------------


def token_for_key(key: str, *, now: dt.datetime | None = None) -> ApiToken | None:
    """The usable key row for this key, or None: unknown, revoked, expired, or its
    organisation deactivated. The caller cannot tell which, and need not."""
    if not key.startswith(KEY_PREFIX) or len(key) > KEY_MAX_LENGTH:
        return None
    digest = key_hash(key)
    # The database compares hashes, so how long it takes says nothing about the key
    # itself; the comparison here is constant-time all the same.
    token = ApiToken.objects.select_related("organisation").filter(key_hash=digest).first()
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        return None
    organisation = token.organisation
    if not organisation.is_active or organisation.kind != Organisation.Kind.INITIATIVE:
        return None
    return token if token.is_usable(now or timezone.now()) else None


def token_touch(token: ApiToken, *, now: dt.datetime | None = None) -> None:
    """Record that the key was used, unless that was recorded less than a minute ago.

    One conditional UPDATE: concurrent calls of one key write it once, none waits.
    """
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_STEP:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_STEP)
    ).update(last_used_at=now)
    token.last_used_at = now


# What a key may reach --------------------------------------------------------------------


def q_for_token(model: type[models.Model], token: ApiToken, action: str = Action.VIEW) -> Q:
    """The rows of `model` a coordinator of the key's organisation may act on, by the
    model's own access policy; nothing for a model that no organisation owns."""
    policy = access.policy_of(model)
    if policy.organisation is None or ROLE not in policy.roles.get(action, frozenset()):
        return Q(pk__in=[])
    field = f"{policy.organisation}__id" if policy.organisation else "pk"
    return Q(**{field: token.organisation_id})


def visible_to_token[M: models.Model](
    queryset: QuerySet[M], token: ApiToken, action: str = Action.VIEW
) -> QuerySet[M]:
    return queryset.filter(q_for_token(queryset.model, token, action))


# The coordinator's list ------------------------------------------------------------------


def api_token_list(*, viewer: User, organisation: Organisation) -> QuerySet[ApiToken]:
    """The organisation's keys, revoked ones too, newest first."""
    return (
        ApiToken.objects.visible_to(viewer)
        .filter(organisation=organisation)
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )
