from __future__ import annotations

from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.db import transaction

from accounts.mfa import needs_mfa
from accounts.models import Membership, Municipality, Organisation, User
from crm.models import PrivacyStatement
from demo import data
from demo.dataplatform_seed import demo_dataplatform
from demo.nip_plan import programme_from_plan
from dossier.models import Dossier, DossierMeasure, Dwelling, Household, MeasureType
from dossier.services import dossier_create
from nip import services as nip_services
from nip.models import Programme


@transaction.atomic
def demo_second_step(user: User) -> None:
    """The demo's authenticator app for a login that needs one (accounts.mfa).

    Every such demo login shares DEMO_TOTP_SECRET, so `manage.py demo_code` (or any
    authenticator app given that key) shows the code.
    """
    if not needs_mfa(user) or Authenticator.objects.filter(user=user).exists():
        return
    TOTP.activate(user, data.DEMO_TOTP_SECRET)


def demo_seed(*, password: str = data.DEFAULT_PASSWORD) -> None:
    """Create or refresh the demo data set; running it twice changes nothing more."""
    for code, name in data.MUNICIPALITIES:
        Municipality.objects.update_or_create(code=code, defaults={"name": name})
    orgs: dict[str, Organisation] = {}
    for org in data.ORGANISATIONS:
        orgs[org.slug], _ = Organisation.objects.update_or_create(
            slug=org.slug, defaults={"name": org.name, "kind": org.kind, "colour": org.colour}
        )
        orgs[org.slug].municipalities.set(Municipality.objects.filter(code__in=org.municipalities))
        if org.kind == Organisation.Kind.INITIATIVE:
            # A published version never changes: a new run keeps the one it made.
            PrivacyStatement.objects.get_or_create(
                initiative=orgs[org.slug],
                version=data.PRIVACY_STATEMENT_VERSION,
                defaults={
                    "text": data.PRIVACY_STATEMENT.format(name=org.name),
                    "valid_from": data.PRIVACY_STATEMENT_FROM,
                },
            )
    users: dict[str, User] = {}
    for person in data.PEOPLE:
        user, created = User.objects.get_or_create(
            email=person.email,
            defaults={
                "first_name": person.first_name,
                "last_name": person.last_name,
                "is_staff": person.is_staff,
                "is_superuser": person.is_staff,
            },
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(
            user=user, email=person.email, defaults={"verified": True, "primary": True}
        )
        if person.organisation and person.role:
            Membership.objects.get_or_create(
                user=user, organisation=orgs[person.organisation], role=person.role
            )
        users[person.email] = user
    for user in users.values():
        demo_second_step(user)
    for home in data.HOMES:
        dwelling, _ = Dwelling.objects.update_or_create(
            postcode=home.postcode,
            house_number=home.house_number,
            house_letter=home.house_letter,
            house_number_addition=home.addition,
            defaults={
                "street": home.street,
                "city": home.city,
                "municipality_code": home.municipality_code,
                "dwelling_type": home.dwelling_type,
                "build_year": home.build_year,
            },
        )
        # The seed's own household is the first at its dwelling: a sign-up at a known
        # address tried in the demo adds another, which a new run leaves alone.
        household = (
            Household.objects.filter(initiative=orgs[home.initiative], dwelling=dwelling)
            .order_by("pk")
            .first()
        )
        fields = {
            "name": home.household,
            "assigned_coach": users[home.coach] if home.coach else None,
        }
        if household is None:
            household = Household.objects.create(
                initiative=orgs[home.initiative], dwelling=dwelling, **fields
            )
        else:
            for name, value in fields.items():
                setattr(household, name, value)
            household.save(update_fields=list(fields))
        household.residents.set([users[email] for email in home.residents])
        dossier = dossier_create(household=household)
        if (home.postcode, home.house_number) == data.DEMO_ADVICE_HOME:
            _demo_advice(dossier)
    _demo_nip(orgs[data.NIP_MUNICIPALITY], users[data.NIP_STAFF])
    demo_dataplatform(orgs)


def _demo_advice(dossier: Dossier) -> None:
    """Fill in what is still empty only: a second run keeps what the demo user changed."""
    for name, value in data.DEMO_HOUSE.items():
        Dossier.objects.filter(pk=dossier.pk, **{f"{name}__isnull": True}).update(**{name: value})
    Dossier.objects.filter(pk=dossier.pk, ownership="").update(ownership="owner")
    for code, (priority, note) in data.DEMO_ADVICE.items():
        DossierMeasure.objects.filter(
            dossier=dossier, measure_type__code=code, advice_priority=""
        ).update(advice_priority=priority, advice_note=note)


def _demo_nip(municipality: Organisation, staff: User) -> None:
    """The seed's first-tranche programme with some homes at each step; made only once."""
    if Programme.objects.filter(municipality=municipality).exists():
        return
    programme = programme_from_plan(municipality)
    for n, home in enumerate(data.NIP_HOMES):
        dwelling, _ = Dwelling.objects.get_or_create(
            postcode=home.postcode,
            house_number=home.house_number,
            defaults={
                "street": home.street,
                "city": "De Bilt",
                "municipality_code": "GM0310",
                "dwelling_type": home.dwelling_type,
                "build_year": home.build_year,
            },
        )
        application = nip_services.application_open(
            programme=programme,
            dwelling=dwelling,
            channel="unburdening_party" if n % 2 else "municipality",
            by=staff,
            answers={
                "owner_occupied": True,
                "energy_label": home.label,
                "build_year": home.build_year,
                "dwelling_type": home.dwelling_type,
                "woz_below_limit": home.woz_below_limit,
                "income_below_threshold": home.low_income,
            },
        )
        if not home.amounts:
            continue
        application = nip_services.application_approve(
            application=application,
            amounts={source: Decimal(amount) for source, amount in home.amounts.items()},
            by=staff,
            version=application.version,
        )
        if not home.measure:
            continue
        application = nip_services.species_check_save(
            application=application, check="not_needed", document=None, version=application.version
        )
        code, area, value, done_by, cost = home.measure
        nip_services.measure_record(
            application=application,
            measure_type=MeasureType.objects.get(code=code),
            facts={
                "area_m2": Decimal(area),
                ("u_value" if code.endswith("glass") else "rd_value"): Decimal(value),
                "executed_on": home.executed_on,
                "done_by": done_by,
                "cost_eur": Decimal(cost),
            },
            by=staff,
            version=application.version,
        )
