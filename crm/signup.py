"""The public sign-up: a resident asks an initiative for help, without an account.

One submit makes (or finds) the dwelling, the household, its dossier and an open case,
in one transaction. The same household signing up twice (the same e-mail address or
phone) gets its open case back, so a double submit or an impatient second try leaves
one case. Someone else signing up where a household already lives gets a household
and case of their own, marked "at a known address", for the coordinator to resolve.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import Organisation
from crm import pipeline, services, tasks
from crm.models import Case, PrivacyStatement, SignupSettings
from dossier.dwellings import dwelling_at
from dossier.services import dossier_create

# At most this many sign-ups per address of the sender per window: enough for a family
# behind one router or a sign-up desk at an information evening, not for a script.
RATE_LIMIT = 20
RATE_WINDOW_SECONDS = 60 * 60


@dataclass(frozen=True)
class SignupPage:
    initiative: Organisation
    settings: SignupSettings
    statement: PrivacyStatement | None


def signup_page(*, slug: str) -> SignupPage | None:
    """The initiative's form settings and its privacy statement in force; None if unknown."""
    initiative = Organisation.objects.filter(
        slug=slug, kind=Organisation.Kind.INITIATIVE, is_active=True
    ).first()
    if initiative is None:
        return None
    form_settings = SignupSettings.objects.filter(initiative=initiative).first()
    statement = (
        PrivacyStatement.objects.filter(initiative=initiative, valid_from__lte=timezone.now())
        .order_by("-valid_from")
        .first()
    )
    return SignupPage(
        initiative=initiative,
        settings=form_settings or SignupSettings(initiative=initiative),
        statement=statement,
    )


def rate_limited(*, client_ip: str) -> bool:
    """Count one sign-up from this address; True when it is over the limit."""
    # Hashed: the cache (Redis in production) never holds a visitor's IP address.
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{client_ip}".encode()).hexdigest()[:32]
    key = f"signup-rate:{digest}"
    cache.add(key, 0, RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:
        # Expired between add and incr: this is the first of a new window.
        cache.set(key, 1, RATE_WINDOW_SECONDS)
        count = 1
    return count > RATE_LIMIT


def signup_submit(*, page: SignupPage, **fields: Any) -> Case:
    """Store a sign-up; return its case (the household's open case if it already had one)."""
    return signup_open(page=page, **fields)[0]


def signup_open(
    *,
    page: SignupPage,
    name: str,
    postcode: str,
    house_number: int,
    house_letter: str = "",
    addition: str = "",
    street: str = "",
    city: str = "",
    **answers: Any,
) -> tuple[Case, bool]:
    """Store a sign-up; its case, and whether that case is new.

    At an address where a household of the initiative already lives, the sign-up is a
    household and case of its own, marked "at a known address", unless its e-mail
    address (or phone) is that of the household's case (services.signup_household).
    """
    if page.statement is None:
        raise ValueError("no privacy statement in force")
    with transaction.atomic():
        dwelling = dwelling_at(
            postcode=postcode,
            house_number=house_number,
            house_letter=house_letter,
            addition=addition,
            street=street,
            city=city,
            lock=True,
        )
        household = services.signup_household(
            initiative=page.initiative,
            dwelling=dwelling,
            name=name,
            contact_email=answers.get("contact_email", ""),
            contact_phone=answers.get("contact_phone", ""),
        )
        dossier_create(household=household)
        had_case = (
            Case.objects.filter(household=household).exclude(status__in=pipeline.ENDED).exists()
        )
        case = services.case_open(
            household=household,
            privacy_statement_version=page.statement.version,
            privacy_accepted_at=timezone.now(),
            **answers,
        )
        if not had_case and case.contact_email:
            tasks.signup_confirmation_mail.delay_on_commit(case.pk)
    return case, not had_case


def signup_confirmation_send(*, case_id: int) -> bool:
    """Mail the address given at sign-up that the sign-up arrived; once per case."""
    case = Case.objects.select_related("initiative").filter(pk=case_id).first()
    if case is None or not case.contact_email:
        return False
    context = {"initiative": case.initiative.name}
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string("emails/signup-confirmation-subject.txt", context).strip()
        body = render_to_string("emails/signup-confirmation-body.txt", context)
    send_mail(subject, body, None, [case.contact_email])
    return True
