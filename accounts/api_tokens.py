"""API keys: how another system acts for one organisation on the one API meant for it.

A key is "wd_" and 43 random URL-safe characters (256 bits). Only its SHA-256 is stored,
with its first characters for people to tell keys apart; the key itself is shown once,
when it is made, and never logged or put in a URL.

Each kind of organisation has its own API and its own key managers (KEY_KINDS): an
initiative's coordinators make keys for its CRM API; a municipality's staff and a
province's analysts make keys for the published neighbourhood figures (the aggregates
API, dataplatform/api.py). A key reaches only the API of its organisation's kind: an
initiative's key never reads figures, a municipality's key never reaches a CRM.

A key is no person. It maps onto the models' access policies (`accounts.access.Policy`)
as the one role of its organisation's kind (a coordinator of an initiative, staff of a
municipality, an analyst of a province) and nothing more: whatever that role may do to a
row there, the key may do, and no other organisation's rows exist for it. It does not
borrow the access of the person who made it, so it neither gains reach when that person
gets another role, nor stops working when they leave. Only API views whose permission
admits keys let one in (crm/api.py, dataplatform/api.py), and each asks `reaches()`;
everywhere else a request with a key has no user and is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
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

# The APIs a key can be made for.
CRM_API = "crm"
AGGREGATES_API = "aggregates"


@dataclass(frozen=True)
class KeyKind:
    """What the keys of one kind of organisation are for.

    role: whom a key acts as in its organisation, and who there makes and revokes keys.
    api: the one API the key reaches.
    """

    role: str
    api: str


KEY_KINDS: dict[str, KeyKind] = {
    Organisation.Kind.INITIATIVE: KeyKind(role=Role.COORDINATOR, api=CRM_API),
    Organisation.Kind.MUNICIPALITY: KeyKind(role=Role.MUNICIPALITY_STAFF, api=AGGREGATES_API),
    Organisation.Kind.PROVINCE: KeyKind(role=Role.PROVINCE_ANALYST, api=AGGREGATES_API),
}


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
    """Make a key for the organisation; returns the row and the key, which is not kept anywhere.

    Whether `actor` may do so is the caller's check (may_manage_keys).
    """
    now = now or timezone.now()
    if organisation.kind not in KEY_KINDS:
        raise ValueError("no API exists for an organisation of this kind")
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
    if not organisation.is_active or organisation.kind not in KEY_KINDS:
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


def reaches(token: ApiToken, api: str) -> bool:
    """True when the key is one for `api` (CRM_API or AGGREGATES_API), by its organisation's
    kind. Every API view that admits keys asks this first."""
    kind = KEY_KINDS.get(token.organisation.kind)
    return kind is not None and kind.api == api


def q_for_token(model: type[models.Model], token: ApiToken, action: str = Action.VIEW) -> Q:
    """The rows of `model` the key's role (KEY_KINDS) in its organisation may act on, by the
    model's own access policy; nothing for a model that no organisation owns."""
    policy = access.policy_of(model)
    kind = KEY_KINDS.get(token.organisation.kind)
    if (
        kind is None
        or policy.organisation is None
        or kind.role not in policy.roles.get(action, frozenset())
    ):
        return Q(pk__in=[])
    field = f"{policy.organisation}__id" if policy.organisation else "pk"
    return Q(**{field: token.organisation_id})


def visible_to_token[M: models.Model](
    queryset: QuerySet[M], token: ApiToken, action: str = Action.VIEW
) -> QuerySet[M]:
    return queryset.filter(q_for_token(queryset.model, token, action))


# Who manages keys, and their list ----------------------------------------------------------


def may_manage_keys(user: User, organisation: Organisation) -> bool:
    """True when the user holds, in this organisation, the role that makes and revokes its
    keys: a coordinator of an initiative, staff of a municipality, an analyst of a province.

    For an initiative this is what ApiToken's access policy says; the government roles are
    checked here, as the policy names coordinators only.
    """
    kind = KEY_KINDS.get(organisation.kind)
    if kind is None or not organisation.is_active:
        return False
    return kind.role in access.roles_by_organisation(user).get(organisation.pk, frozenset())


def api_token_list(*, viewer: User, organisation: Organisation) -> QuerySet[ApiToken]:
    """The organisation's keys, revoked ones too, newest first; none for someone who does
    not manage them."""
    if not may_manage_keys(viewer, organisation):
        return ApiToken.objects.none()
    return (
        ApiToken.objects.filter(organisation=organisation)
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )
