from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction

from accounts.models import Membership, Municipality, Organisation, User
from demo import data
from dossier.models import Dossier, DossierMeasure, Dwelling, Household
from dossier.services import dossier_create


@transaction.atomic
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
        household, _ = Household.objects.update_or_create(
            initiative=orgs[home.initiative],
            dwelling=dwelling,
            defaults={
                "name": home.household,
                "assigned_coach": users[home.coach] if home.coach else None,
            },
        )
        household.residents.set([users[email] for email in home.residents])
        dossier = dossier_create(household=household)
        if (home.postcode, home.house_number) == data.DEMO_ADVICE_HOME:
            _demo_advice(dossier)


def _demo_advice(dossier: Dossier) -> None:
    """Fill in what is still empty only: a second run keeps what the demo user changed."""
    for name, value in data.DEMO_HOUSE.items():
        Dossier.objects.filter(pk=dossier.pk, **{f"{name}__isnull": True}).update(**{name: value})
    Dossier.objects.filter(pk=dossier.pk, ownership="").update(ownership="owner")
    for code, (priority, note) in data.DEMO_ADVICE.items():
        DossierMeasure.objects.filter(
            dossier=dossier, measure_type__code=code, advice_priority=""
        ).update(advice_priority=priority, advice_note=note)
