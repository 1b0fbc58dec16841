"""Writes to the house dossier: creation, saving a topic with its sources, measures.

Every save of a topic goes through `section_save`, which takes the version the editor
started from. A save based on an older version is refused with both versions, so two
tabs or two people never silently overwrite each other (optimistic locking per topic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import CheckConstraint, Model, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts import access
from dossier import signals, tasks
from dossier.models import (
    BuildingComponent,
    ComponentKind,
    Dossier,
    DossierMeasure,
    DossierSection,
    Household,
    LabelKind,
    MeasureType,
    ParameterSet,
    ParameterValue,
    Section,
    Source,
    ValueRecord,
)

if TYPE_CHECKING:
    from accounts.models import User

# Which dossier columns belong to which topic. INSULATION holds the building components
# and MEASURES the dossier's measures; both are rows of their own.
SECTION_FIELDS: dict[str, tuple[str, ...]] = {
    Section.HOUSE: (
        "dwelling_type",
        "apartment_type",
        "build_year",
        "floor_area_m2",
        "storeys",
        "roof_type",
        "orientation",
        "is_monument",
        "ownership",
        "energy_label_kind",
        "energy_label",
        "energy_label_date",
    ),
    Section.ENERGY: (
        "occupants",
        "gas_m3_per_year",
        "electricity_kwh_per_year",
        "electricity_returned_kwh_per_year",
        "thermostat_c",
    ),
    Section.INSTALLATIONS: (
        "heating_system",
        "boiler_year",
        "hot_water",
        "cooking",
        "ventilation",
        "has_solar_panels",
        "solar_panel_count",
        "solar_panel_wp",
        "solar_panel_year",
    ),
    Section.INSULATION: (),
    Section.COMFORT: (
        "complaint_draught",
        "complaint_cold_floors",
        "complaint_damp",
        "plans_renovation",
        "plans_moving",
        "main_priority",
        "wishes",
    ),
    Section.MEASURES: (),
}
COMPONENT_FIELDS: tuple[str, ...] = ("insulation", "rc_value", "u_value", "area_m2", "year")
MEASURE_FIELDS: tuple[str, ...] = (
    "status",
    "done_year",
    "done_by",
    "advice_priority",
    "advice_note",
    "quote_amount_eur",
    "quote_company",
    "quote_date",
)
# Only staff give advice; a resident's save never touches these.
MEASURE_ADVICE_FIELDS = frozenset({"advice_priority", "advice_note"})


@dataclass
class SectionConflict(Exception):
    """The topic changed since the editor loaded it; nothing of this save was stored."""

    section: DossierSection
    submitted_version: int
    # field key -> (value stored now, value the editor submitted), for differing fields
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def as_text(value: Any) -> str:
    """A stored value as text for the source record ("" for not answered)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@transaction.atomic
def dossier_create(*, household: Household) -> Dossier:
    """The dossier of a household, prefilled from what is known of the dwelling."""
    existing = Dossier.objects.filter(household=household).first()
    if existing is not None:
        return existing
    dwelling = household.dwelling
    signals.dwelling_prefill.send(sender=Dossier, dwelling=dwelling)
    has_label = bool(dwelling.registered_label)
    dossier = Dossier.objects.create(
        household=household,
        dwelling_type=dwelling.dwelling_type,
        build_year=dwelling.build_year,
        floor_area_m2=dwelling.floor_area_m2,
        energy_label_kind=LabelKind.REGISTERED if has_label else "",
        energy_label=dwelling.registered_label,
        energy_label_date=dwelling.registered_label_on if has_label else None,
    )
    DossierSection.objects.bulk_create(
        [DossierSection(dossier=dossier, section=section) for section in Section.values]
    )
    BuildingComponent.objects.bulk_create(
        [BuildingComponent(dossier=dossier, kind=kind) for kind in ComponentKind.values]
    )
    DossierMeasure.objects.bulk_create(
        [
            DossierMeasure(dossier=dossier, measure_type=measure_type)
            for measure_type in MeasureType.objects.filter(is_active=True)
        ]
    )
    now = timezone.now()
    # Where each prefilled value came from: the open-data file and its date, when the
    # data platform filled it; "BAG" for what the dwelling held before.
    origins = dwelling.open_data or {}
    prefilled = (
        "dwelling_type",
        "build_year",
        "floor_area_m2",
        "energy_label_kind",
        "energy_label",
        "energy_label_date",
    )
    ValueRecord.objects.bulk_create(
        [
            ValueRecord(
                dossier=dossier,
                field=name,
                source=Source.OPEN_DATA,
                value=as_text(getattr(dossier, name)),
                recorded_at=now,
                source_detail=str(origins.get(name, "BAG"))[:200],
            )
            for name in prefilled
            if getattr(dossier, name) not in (None, "")
        ]
    )
    return dossier


def _record_all(
    *,
    dossier: Dossier,
    values: dict[str, Any],
    source: str,
    actor: User,
    now: Any,
) -> None:
    """The source of each changed value (key -> value), in one upsert for the whole save.

    ValueRecord is not audited and sends no signal anyone listens to, so one INSERT ... ON
    CONFLICT stands in for a SELECT and an UPDATE (and a savepoint) per field. A record
    keeps its source_detail, as update_or_create with these defaults did.
    """
    if not values:
        return
    ValueRecord.objects.bulk_create(
        [
            ValueRecord(
                dossier=dossier,
                field=key,
                source=source,
                value=as_text(value),
                recorded_by=actor,
                recorded_at=now,
                checked_in_home=False,
            )
            for key, value in values.items()
        ],
        update_conflicts=True,
        unique_fields=["dossier", "field", "source"],
        update_fields=["value", "recorded_by", "recorded_at", "checked_in_home"],
    )


def _full_clean(instance: Model, *, changed: Any, exclude: list[str]) -> None:
    """full_clean, asking the database only about the check constraints a change is part of.

    Django validates each check constraint with a query of its own. One over fields this
    save leaves alone holds already (the database enforces it), so asking again costs a
    round trip per constraint and can tell nothing new.
    """
    changed = set(changed)
    constraints = [c for c in instance._meta.constraints if isinstance(c, CheckConstraint)]
    involved = any(
        Q(constraint.condition).referenced_base_fields & changed for constraint in constraints
    )
    instance.full_clean(exclude=exclude, validate_constraints=involved)


@transaction.atomic
def section_save(
    *,
    dossier: Dossier,
    section: str,
    version: int,
    actor: User,
    values: dict[str, Any] | None = None,
    components: dict[str, dict[str, Any]] | None = None,
    measures: dict[int, dict[str, Any]] | None = None,
    notes: str | None = None,
    checked_in_home: bool | None = None,
    on_behalf_of_resident: bool = False,
) -> DossierSection:
    """Store what an editor changed in one topic, with its source; refuse a stale save.

    values: dossier columns of this topic; components: per component kind its fields;
    measures: per DossierMeasure id its fields. Only fields that differ from what is
    stored are written and recorded. Notes and the "checked in the home" mark are the
    coach's and are ignored for residents.

    Returns the topic's row; its `dossier` is the dossier as stored now (its components
    and measures are not loaded).
    """
    # The row lock serialises two saves of the same topic; the version check then
    # tells the second one that it started from an older state.
    row = DossierSection.objects.select_for_update().get(dossier=dossier, section=section)
    is_staff_editor = access.is_staff_viewer(actor, residents=dossier.household.residents.all())
    # A coach filling in with the resident records the resident's answer (with the coach
    # as the one who typed it).
    source = Source.COACH if is_staff_editor and not on_behalf_of_resident else Source.RESIDENT
    # With the household: the audit entry of the save names the dossier by str(), which
    # reads it.
    fresh = Dossier.objects.select_related("household").get(pk=dossier.pk)
    # The caller shows the topic as stored from this row, without loading it again.
    row.dossier = fresh
    allowed = set(SECTION_FIELDS[section])
    changes: dict[str, tuple[Any, Any]] = {}

    dossier_changes = {
        name: value
        for name, value in (values or {}).items()
        if name in allowed and getattr(fresh, name) != value
    }
    changes.update({name: (getattr(fresh, name), v) for name, v in dossier_changes.items()})

    component_rows = {c.kind: c for c in fresh.components.all()} if components else {}
    component_changes: dict[str, dict[str, Any]] = {}
    for kind, fields in (components or {}).items():
        row_c = component_rows.get(kind)
        if row_c is None:
            continue
        diff = {n: v for n, v in fields.items() if n in COMPONENT_FIELDS and getattr(row_c, n) != v}
        if diff:
            component_changes[kind] = diff
            changes.update({f"{kind}.{n}": (getattr(row_c, n), v) for n, v in diff.items()})

    # With the measure type: the audit entry names each measure by str(), which reads it.
    measure_rows = (
        {m.pk: m for m in fresh.measures.select_related("measure_type")} if measures else {}
    )
    measure_changes: dict[int, dict[str, Any]] = {}
    for pk, fields in (measures or {}).items():
        row_m = measure_rows.get(pk)
        if row_m is None:
            continue
        writable = set(MEASURE_FIELDS) - (set() if is_staff_editor else MEASURE_ADVICE_FIELDS)
        diff = {n: v for n, v in fields.items() if n in writable and getattr(row_m, n) != v}
        if diff:
            measure_changes[pk] = diff
            changes.update({f"measure.{pk}.{n}": (getattr(row_m, n), v) for n, v in diff.items()})

    notes_changed = is_staff_editor and notes is not None and notes != row.notes
    check_changed = (
        is_staff_editor and checked_in_home is not None and checked_in_home != row.checked_in_home
    )
    if notes_changed:
        changes["notes"] = (row.notes, notes)

    if version != row.version:
        if changes or check_changed:
            raise SectionConflict(section=row, submitted_version=version, differences=changes)
        return row  # Nothing to store: an older page that changed nothing is harmless.
    if not changes and not check_changed:
        return row

    now = timezone.now()
    records: dict[str, Any] = {}
    if dossier_changes:
        for name, value in dossier_changes.items():
            setattr(fresh, name, value)
            records[name] = value
        _full_clean(fresh, changed=dossier_changes, exclude=["household"])
        fresh.save(update_fields=list(dossier_changes))
    for kind, diff in component_changes.items():
        row_c = component_rows[kind]
        for name, value in diff.items():
            setattr(row_c, name, value)
            records[f"{kind}.{name}"] = value
        _full_clean(row_c, changed=diff, exclude=["dossier"])
        row_c.save(update_fields=list(diff))
    for pk, diff in measure_changes.items():
        row_m = measure_rows[pk]
        for name, value in diff.items():
            setattr(row_m, name, value)
        written = set(diff)
        if row_m.status != "done":
            row_m.done_year, row_m.done_by = None, ""
            written |= {"done_year", "done_by"}
        _full_clean(row_m, changed=written, exclude=["dossier", "measure_type"])
        # Only what changed: the data platform's shared row is counted again only when
        # the status is among them (dataplatform.shared.on_measure_changed).
        row_m.save(update_fields=[*sorted(written), "updated_at"])
    _record_all(dossier=fresh, values=records, source=source, actor=actor, now=now)
    if notes_changed:
        row.notes = notes
    if check_changed:
        row.checked_in_home = bool(checked_in_home)
    row.version += 1
    row.updated_at = now
    row.updated_by = actor
    row.save(update_fields=["notes", "checked_in_home", "version", "updated_at", "updated_by"])
    return row


@transaction.atomic
def value_check(*, dossier: Dossier, key: str, actor: User) -> ValueRecord:
    """The coach confirms in the home that a value is right as it stands now."""
    if "." in key:
        kind, name = key.split(".", 1)
        current = getattr(dossier.components.get(kind=kind), name)
    else:
        current = getattr(dossier, key)
    record, _ = ValueRecord.objects.update_or_create(
        dossier=dossier,
        field=key,
        source=Source.COACH,
        defaults={
            "value": as_text(current),
            "recorded_by": actor,
            "recorded_at": timezone.now(),
            "checked_in_home": True,
        },
    )
    return record


@transaction.atomic
def dossier_submit(*, dossier: Dossier, actor: User) -> Dossier:
    """The resident (or the coach with them) says the dossier is ready for the coach."""
    dossier.submitted_at = timezone.now()
    dossier.save(update_fields=["submitted_at"])
    signals.dossier_submitted.send(sender=Dossier, dossier=dossier, actor=actor)
    return dossier


def invitation_send(*, user: User) -> None:
    """Mail an invited resident the link that lets them set a password and open their dossier."""
    # The link carries only the user's id (encoded) and a token that stops working
    # once a password is set: no name, address or e-mail address in the URL. Its base is
    # SITE_URL, never a request's Host header, which whoever sends the request chooses.
    path = reverse(
        "dossier:invitation-accept",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "link": settings.SITE_URL + path,
        "code_link": settings.SITE_URL + reverse("account_request_login_code"),
    }
    # A worker has no request to take the language from.
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string("emails/dossier-invitation-subject.txt", context).strip()
        body = render_to_string("emails/dossier-invitation-body.txt", context)
    send_mail(subject, body, None, [user.email])


@transaction.atomic
def resident_invite(*, dossier: Dossier, email: str, actor: User) -> User:
    """Give a resident a login to their home's dossier and mail them a link to set a password.

    The mail goes out from a task, enqueued only once this transaction commits.
    """
    email = email.strip().lower()
    user_model = get_user_model()
    user = user_model.objects.filter(email__iexact=email).first()
    if user is None:
        user = user_model.objects.create_user(email=email, password=None)
    elif user.is_staff or user.memberships.exists():
        # A staff account must not become a resident: residents see only their own
        # home, and access.is_resident() would stop treating them as one.
        raise ValidationError(
            _("This e-mail address belongs to a staff member and cannot be invited as resident.")
        )
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": False, "primary": True}
    )
    dossier.household.residents.add(user)
    dossier.invited_at = timezone.now()
    dossier.save(update_fields=["invited_at"])
    # The task message holds the id only: no address or name in the broker.
    tasks.resident_invitation_send.delay_on_commit(user.pk)
    return user


@transaction.atomic
def resident_invitation_accept(*, user: User, password: str) -> User:
    """The invited resident sets a password; following the mailed link proves the address."""
    user.set_password(password)
    user.save(update_fields=["password"])
    EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)
    return user


@transaction.atomic
def parameter_set_copy(*, parameter_set: ParameterSet) -> ParameterSet:
    """A new, unlocked version of the calculation parameters to edit, valid from tomorrow.

    Figures kept in reports name the version they used; editing a copy leaves those
    versions as they were.
    """
    latest = ParameterSet.objects.select_for_update().order_by("-valid_from").first()
    valid_from = timezone.localdate() + timedelta(days=1)
    if latest is not None and latest.valid_from >= valid_from:
        valid_from = latest.valid_from + timedelta(days=1)
    version = f"{valid_from:%Y-%m-%d}"
    copy = ParameterSet.objects.create(
        version=version,
        valid_from=valid_from,
        description=f"Copy of {parameter_set.version}",
    )
    ParameterValue.objects.bulk_create(
        ParameterValue(
            parameter_set=copy,
            key=row.key,
            value=row.value,
            unit=row.unit,
            source=row.source,
            verified=row.verified,
        )
        for row in parameter_set.values.all()
    )
    return copy
