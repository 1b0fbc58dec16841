"""Plain builders for test data: readable defaults, every field overridable."""

from __future__ import annotations

import itertools
from typing import Any

from allauth.account.models import EmailAddress

from accounts.models import Membership, Municipality, Organisation, User
from dossier.models import Dwelling, DwellingType, Household
from dossier.services import dossier_create

PASSWORD = "correct-horse-battery-staple"
_seq = itertools.count(1)


def make_user(email: str | None = None, *, verified: bool = True, **fields: Any) -> User:
    n = next(_seq)
    email = email or f"person{n}@example.org"
    fields.setdefault("first_name", f"Voornaam{n}")
    fields.setdefault("last_name", f"Achternaam{n}")
    user = User.objects.create_user(email=email, password=PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def make_municipality(code: str = "GM0310", name: str = "De Bilt") -> Municipality:
    municipality, _ = Municipality.objects.get_or_create(code=code, defaults={"name": name})
    return municipality


def make_organisation(
    kind: str = Organisation.Kind.INITIATIVE, *, municipalities: tuple[str, ...] = (), **fields: Any
) -> Organisation:
    n = next(_seq)
    fields.setdefault("name", f"Organisatie {n}")
    fields.setdefault("slug", f"organisatie-{n}")
    organisation = Organisation.objects.create(kind=kind, **fields)
    organisation.municipalities.set([make_municipality(code) for code in municipalities])
    return organisation


def make_member(organisation: Organisation, role: str, **fields: Any) -> User:
    user = make_user(**fields)
    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


def make_dwelling(**fields: Any) -> Dwelling:
    n = next(_seq)
    fields.setdefault("postcode", "3731AB")
    fields.setdefault("house_number", n)
    fields.setdefault("street", "Teststraat")
    fields.setdefault("city", "De Bilt")
    fields.setdefault("municipality_code", "GM0310")
    fields.setdefault("dwelling_type", DwellingType.TERRACED)
    fields.setdefault("build_year", 1965)
    return Dwelling.objects.create(**fields)


def make_household(
    initiative: Organisation,
    *,
    coach: User | None = None,
    residents: tuple[User, ...] = (),
    dwelling: Dwelling | None = None,
    **fields: Any,
) -> Household:
    n = next(_seq)
    fields.setdefault("name", f"Huishouden {n}")
    household = Household.objects.create(
        initiative=initiative, dwelling=dwelling or make_dwelling(), assigned_coach=coach, **fields
    )
    household.residents.set(residents)
    dossier_create(household=household)
    return household


def give_totp(user: User) -> str:
    """Set up the authenticator app (TOTP) of a user; returns its secret."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        from allauth.mfa.utils import decrypt

        return decrypt(existing.data["secret"])
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def log_in_with_second_step(client, user: User):
    """Log a user in as if they passed the login page and its second step (accounts.mfa)."""
    from types import SimpleNamespace

    from allauth.account.internal.flows.login import record_authentication
    from allauth.mfa.models import Authenticator

    give_totp(user)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    # What allauth's login and its second step record in the session.
    request = SimpleNamespace(session=client.session)
    record_authentication(request, user, "password", email=user.email)
    record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
    request.session.save()
    return client


def totp_code(user: User) -> str:
    """The code the user's authenticator app shows now."""
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    counter = int(time.time()) // app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(give_totp(user), counter))


def make_measure_type(**fields: Any):
    """A measure type whose id fits the data platform's bit mask of measures.

    On PostgreSQL ids keep growing through a run; an id past the mask would be left out of
    every count, and a test comparing counts would pass on 0 == 0.
    """
    from dataplatform.shared import MASK_LAST_ID
    from dossier.models import MeasureType

    # From the top of the mask down: far from the ids the sequence hands out next.
    taken = set(MeasureType.objects.values_list("pk", flat=True))
    free = max(set(range(1, MASK_LAST_ID + 1)) - taken)
    return MeasureType.objects.create(pk=free, **fields)
