"""Erasure on request (AVG art. 17): a household's personal data removed everywhere.

`household_erase` removes or anonymises, in one transaction, what the initiative holds
about one household. Which fields are personal comes from privacy.register: every
PERSONAL or SPECIAL value field of the models below is blanked, so a field added later is
covered without a change here (tests/privacy/test_erasure.py walks every table).

Removed (rows deleted, files deleted from storage once the transaction commits):
messages and who read them, documents, photos, advice reports and their PDFs, the
sources of dossier values, the household's row in the aggregates (SharedHousehold), the
resident's e-mail addresses, second-step authenticators and sessions.

Anonymised (the row stays, its personal values are blanked): the household (name,
residents), the dossier (energy use, answers, wishes), its topics (the coach's notes),
its measures (notes, quotes), the CRM cases (help asked, contact details), their
timeline (texts), visits (the time becomes the first day of its month) and tasks
(titles), the resident's account (deactivated, name and e-mail replaced), the dwelling's
address when no one else needs it, and the audit log about all of these (descriptions,
changed values, the resident's e-mail address and IP address as an actor).

Kept, and why (`KEPT`, also shown on the confirmation page):

- NIP applications with their commitments, executed measures and files (invoices,
  species plans), and the address of the home they are for: the municipality must keep
  its grant records (Gemeentewet art. 212, Archiefwet 1995; AVG art. 17(3)(b)). They are
  the municipality's records, not the initiative's.
- Consent records: proof of what was agreed and when (AVG art. 7(1)), tied to the
  anonymised household only; active consents are withdrawn by the erasure.
- The version and time of the privacy statement accepted at sign-up, for the same reason.
- The dwelling's address when another household lives there (another initiative's
  data) or a NIP application is for it.
- House characteristics (type, build year, insulation, measures taken): without the
  address and name they are no personal data, and they keep the figures right.
- The audit log's entries, with ids and who did what, but no personal values: the
  initiative must be able to show who did what (AVG art. 5(2), 32).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from privacy.models import Removal
from privacy.register import REGISTER, DataClass

if TYPE_CHECKING:
    from accounts.models import Organisation, User
    from dossier.models import Household

logger = logging.getLogger(__name__)

# What a required text becomes; stored, not translated (the interface shows it as is).
ERASED = "[gewist]"
# The address an anonymised dwelling gets: a fixed postcode, the house number from the
# row's id so the unique address constraint holds.
ERASED_POSTCODE = "9999ZZ"
ERASED_EMAIL_DOMAIN = "gewist.invalid"

PERSONAL = (DataClass.PERSONAL, DataClass.SPECIAL)

# Personal fields that an anonymised row keeps on purpose (see KEPT).
KEEP_FIELDS: dict[str, frozenset[str]] = {
    "crm.Case": frozenset({"privacy_accepted_at"}),
}

# Models whose rows are the municipality's grant records and stay whole.
LEGAL_MODELS = ("nip.Application", "nip.Commitment", "nip.ExecutedMeasure")

# What the erasure does with each table below the household. A test walks every
# relation from the household and fails on a table that is not here, so a new table of
# household data cannot be forgotten.
HANDLED_MODELS: dict[str, str] = {
    "dossier.Dossier": "anonymised",
    "dossier.DossierSection": "anonymised",
    "dossier.DossierMeasure": "anonymised",
    "dossier.BuildingComponent": "kept: house characteristics only",
    "dossier.ValueRecord": "deleted",
    "dossier.Message": "deleted",
    "dossier.MessageRead": "deleted with its message",
    "dossier.Document": "deleted",
    "dossier.Photo": "deleted",
    "dossier.AdviceReport": "deleted",
    "crm.Case": "anonymised",
    "crm.CaseEvent": "anonymised",
    "crm.Visit": "anonymised",
    "crm.Task": "anonymised",
    "dataplatform.ConsentRecord": "kept as proof, withdrawn",
    "dataplatform.SharedHousehold": "deleted",
    **dict.fromkeys(LEGAL_MODELS, "kept: legal duty"),
}


@dataclass(frozen=True)
class Kept:
    what: str | Promise
    why: str | Promise


KEPT: tuple[Kept, ...] = (
    Kept(
        _("NIP applications, the amounts granted, the measures carried out and their files"),
        _(
            "The municipality must keep its grant records (Gemeentewet art. 212, "
            "Archiefwet 1995; AVG art. 17(3)(b)). They are the municipality's records."
        ),
    ),
    Kept(
        _(
            "The address of the home, when a NIP application is for it or another "
            "household lives there"
        ),
        _("The municipality's grant records and the other household's dossier need it."),
    ),
    Kept(
        _("Consent records: purpose, text and version, given and withdrawn at"),
        _(
            "Proof of what was agreed (AVG art. 7(1)). They point to the anonymised household "
            "only; consent still active is withdrawn."
        ),
    ),
    Kept(
        _("The version and time of the privacy statement accepted at sign-up"),
        _("Proof that the privacy statement was accepted; tied to no name or address."),
    ),
    Kept(
        _("House characteristics and the status of measures"),
        _("Without name and address they are no personal data, and the figures stay right."),
    ),
    Kept(
        _("Audit log entries, without personal values"),
        _("The initiative must be able to show who did what and when (AVG art. 5(2) and 32)."),
    ),
)


class _Counts:
    """Counts per model and action for the Removal row: numbers only, never values."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, label: str, action: str, count: int) -> None:
        if count:
            self.data[label][action] += count

    @property
    def total(self) -> int:
        return sum(n for actions in self.data.values() for n in actions.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {label: dict(actions) for label, actions in sorted(self.data.items())}


def personal_value_fields(model: type[models.Model]) -> list[models.Field]:
    """The model's personal and special fields that hold a value, not a relation."""
    entry = REGISTER[model._meta.label]
    keep = KEEP_FIELDS.get(model._meta.label, frozenset())
    names = [n for n, kind in entry.classes().items() if kind in PERSONAL and n not in keep]
    fields = [model._meta.get_field(name) for name in names]
    # Relations to accounts and to the household stay: the account is anonymised on its
    # own, and a staff member's link (author, coach) is the staff member's, not the
    # household's.
    return [f for f in fields if not f.is_relation]


def _blank(field: models.Field, value: Any) -> Any:
    """The neutral value a personal field gets."""
    if isinstance(field, models.FileField):
        return ""
    if field.null:
        return None
    if isinstance(field, models.JSONField):
        return field.get_default()
    if isinstance(field, models.CharField | models.TextField):
        return "" if field.blank else ERASED
    if isinstance(field, models.DateTimeField):
        # A required moment (a visit's start) keeps its month only.
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if isinstance(field, models.DateField):
        return value.replace(day=1)
    if field.has_default():
        return field.get_default()
    return value


def _anonymise(
    queryset: models.QuerySet,
    counts: _Counts,
    files: list[str],
    *,
    extra: dict[str, Any] | None = None,
) -> list[int]:
    """Blank every personal value of these rows; the ids of the rows that changed."""
    model = queryset.model
    fields = personal_value_fields(model)
    changed = []
    for obj in queryset:
        values: dict[str, Any] = {}
        for field in fields:
            current = getattr(obj, field.attname)
            if isinstance(field, models.FileField):
                current = current.name or ""
                if current:
                    files.append(current)
            new = _blank(field, current)
            if new != current:
                values[field.attname] = new
        for name, new in (extra or {}).items():
            if getattr(obj, name) != new:
                values[name] = new
            else:
                values.pop(name, None)
        if values:
            # update(): no signals, so no audit entry and no aggregate row made again.
            model._default_manager.filter(pk=obj.pk).update(**values)
            changed.append(obj.pk)
    counts.add(model._meta.label, "anonymised", len(changed))
    return changed


def _delete(queryset: models.QuerySet, counts: _Counts, files: list[str]) -> None:
    model = queryset.model
    file_fields = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
    for names in queryset.values_list(*[f.attname for f in file_fields]) if file_fields else ():
        files.extend(name for name in names if name)
    _, per_model = queryset.delete()
    for label, count in per_model.items():
        counts.add(label, "deleted", count)


def _erased_email(user_id: int) -> str:
    return f"gewist-{user_id}@{ERASED_EMAIL_DOMAIN}"


def erasable_residents(household: Household) -> list[User]:
    """The residents whose account goes with the household.

    An account that also works for an organisation, belongs to the platform's staff or
    lives in another household stays; it only loses its link to this household.
    """
    others = household.residents.filter(
        Q(memberships__isnull=False) | Q(is_staff=True) | Q(is_superuser=True)
    )
    keep = set(others.values_list("pk", flat=True))
    residents = []
    for user in household.residents.all():
        if user.pk in keep or user.households.exclude(pk=household.pk).exists():
            continue
        residents.append(user)
    return residents


def _erase_accounts(users: Iterable[User], counts: _Counts, scope: dict[str, set]) -> None:
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.models import UserSession
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.models import Session

    from accounts.models import User

    ids = [user.pk for user in users]
    if not ids:
        return
    # The admin and audit logs name these rows too (str(user) is the full name, an e-mail
    # address row shows the address): their entries are scrubbed with the household's.
    objects = scope["objects"]
    objects["accounts.User"].update(ids)
    for model in (EmailAddress, Authenticator, UserSession):
        objects[model._meta.label].update(
            model.objects.filter(user_id__in=ids).values_list("pk", flat=True)
        )
    keys = list(UserSession.objects.filter(user_id__in=ids).values_list("session_key", flat=True))
    _delete(Session.objects.filter(session_key__in=keys), counts, [])
    _delete(UserSession.objects.filter(user_id__in=ids), counts, [])
    _delete(EmailAddress.objects.filter(user_id__in=ids), counts, [])
    _delete(Authenticator.objects.filter(user_id__in=ids), counts, [])
    for user in User.objects.filter(pk__in=ids):
        scope["emails"].add(user.email)
        _anonymise(
            User.objects.filter(pk=user.pk),
            counts,
            [],
            extra={
                "email": _erased_email(user.pk),
                "is_active": False,
                # An unusable password: the account can never log in again.
                "password": user.password if user.password.startswith("!") else make_password(None),
            },
        )


def _scrub_audit(scope: dict[str, set], counts: _Counts) -> None:
    """Audit entries about the household's rows keep ids and actors, no personal values."""
    from auditlog.models import LogEntry as AuditEntry
    from django.apps import apps
    from django.contrib.admin.models import LogEntry as AdminEntry

    from privacy import audit

    about = Q(pk__in=[])
    admin_about = Q(pk__in=[])
    for label, pks in scope["objects"].items():
        if not pks:
            continue
        model = apps.get_model(label)
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        text_pks = [str(pk) for pk in pks]
        about |= Q(content_type=content_type, object_pk__in=text_pks)
        admin_about |= Q(content_type=content_type, object_id__in=text_pks)

    changed = 0
    for entry in AuditEntry.objects.filter(about).select_related("content_type"):
        model = entry.content_type.model_class()
        personal = audit.personal_fields(model._meta.label) if model else frozenset()
        values: dict[str, Any] = {
            "object_repr": f"{entry.content_type.model} {entry.object_pk}",
            "serialized_data": None,
        }
        if isinstance(entry.changes, dict):
            values["changes"] = audit._masked(entry.changes, personal)
        if entry.changes_text:
            values["changes_text"] = audit.MASK
        if any(getattr(entry, k) != v for k, v in values.items()):
            AuditEntry.objects.filter(pk=entry.pk).update(**values)
            changed += 1
    counts.add("auditlog.LogEntry", "anonymised", changed)

    users = scope["users"]
    emails = {e.lower() for e in scope["emails"]}
    as_actor = AuditEntry.objects.filter(Q(actor_id__in=users) | Q(actor_email__in=emails)).exclude(
        actor_email__isnull=True, remote_addr__isnull=True, remote_port__isnull=True
    )
    counts.add(
        "auditlog.LogEntry",
        "actor anonymised",
        as_actor.update(actor_email=None, remote_addr=None, remote_port=None),
    )
    counts.add(
        "admin.LogEntry",
        "anonymised",
        AdminEntry.objects.filter(admin_about)
        .exclude(change_message="", object_repr__startswith="#")
        .update(object_repr="#", change_message=""),
    )


def files_delete_on_commit(names: list[str], *, job: str = "erasure") -> None:
    """Delete stored files once the transaction that removed their rows commits.

    Each file on its own: one that cannot be deleted (storage away for a moment) does not
    stop the others, nor turn a finished removal into an error page. Its name (ids and a
    random part, no personal data) is logged so that it can be removed by hand; without
    its row nobody finds or serves it. The retention job uses this too.
    """
    names = [name for name in names if name]
    if not names:
        return

    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("%s: could not delete stored file %s", job, name)

    transaction.on_commit(delete, robust=True)


@transaction.atomic
def household_erase(
    *,
    household: Household,
    performed_by: User | None = None,
    reason: str = Removal.Reason.ERASURE,
    rule: str = "erasure",
    organisation: Organisation | None = None,
    withdrawal_channel: str = "email",
    request_reason: str = "",
) -> Removal:
    """Remove or anonymise the household's personal data; returns the proof of removal.

    Safe to call twice: a second call finds nothing left to remove and returns the
    Removal of the first (or a new one with no counts, for another reason or rule).
    withdrawal_channel: how the request came in, recorded on consents it withdraws.
    request_reason: a code (privacy.forms.REASONS) for the proof; never free text.
    """
    from crm.models import Case, CaseEvent, Task, Visit
    from dataplatform.models import ConsentRecord, SharedHousehold
    from dossier.models import (
        AdviceReport,
        Document,
        Dossier,
        DossierMeasure,
        DossierSection,
        Dwelling,
        Household,
        Message,
        Photo,
        ValueRecord,
    )
    from nip.models import Application

    # The lock makes a double submit wait for the first, then find nothing left.
    household = Household.objects.select_for_update().get(pk=household.pk)
    counts = _Counts()
    files: list[str] = []
    scope: dict[str, Any] = {"objects": defaultdict(set), "users": set(), "emails": set()}

    def note(queryset: models.QuerySet) -> models.QuerySet:
        scope["objects"][queryset.model._meta.label].update(queryset.values_list("pk", flat=True))
        return queryset

    dossiers = note(Dossier.objects.filter(household=household))
    cases = note(Case.objects.filter(household=household))
    in_dossier = {"dossier__household": household}
    in_case = {"case__household": household}

    # Rows that are nothing but personal data go whole.
    for model in (Message, Document, Photo, AdviceReport, ValueRecord):
        _delete(note(model.objects.filter(**in_dossier)), counts, files)
    _delete(SharedHousehold.objects.filter(household=household), counts, files)

    # Active consents end with the erasure; the records stay as proof.
    now = timezone.now()
    active = ConsentRecord.objects.filter(household=household, withdrawn_at__isnull=True)
    counts.add(
        "dataplatform.ConsentRecord",
        "withdrawn",
        active.update(
            withdrawn_at=now, withdrawal_channel=withdrawal_channel, withdrawn_by=performed_by
        ),
    )

    # Rows that also hold what the figures count: blank their personal values.
    _anonymise(dossiers, counts, files)
    for model in (DossierSection, DossierMeasure):
        _anonymise(note(model.objects.filter(**in_dossier)), counts, files)
    _anonymise(cases, counts, files)
    for model in (CaseEvent, Visit, Task):
        _anonymise(note(model.objects.filter(**in_case)), counts, files)

    residents = erasable_residents(household)
    scope["users"].update(user.pk for user in residents)
    scope["objects"]["dossier.Household"].add(household.pk)
    _anonymise(Household.objects.filter(pk=household.pk), counts, files)
    unlinked = household.residents.count()
    household.residents.clear()
    counts.add("dossier.Household.residents", "unlinked", unlinked)
    _erase_accounts(residents, counts, scope)

    dwelling = household.dwelling
    shared = (
        Household.objects.filter(dwelling=dwelling).exclude(pk=household.pk).exists()
        or Application.objects.filter(dwelling=dwelling).exists()
    )
    if not shared:
        scope["objects"]["dossier.Dwelling"].add(dwelling.pk)
        _anonymise(
            Dwelling.objects.filter(pk=dwelling.pk),
            counts,
            files,
            extra={
                "postcode": ERASED_POSTCODE,
                "house_number": (dwelling.pk - 1) % 99999 + 1,
                "house_number_addition": _base36((dwelling.pk - 1) // 99999),
                # Looked up once: the open-data prefill never fills the address in again.
                "open_data_checked_at": dwelling.open_data_checked_at or now,
            },
        )
    else:
        counts.add("dossier.Dwelling", "kept", 1)

    _scrub_audit(scope, counts)
    counts.add("nip.Application", "kept", Application.objects.filter(household=household).count())

    files_delete_on_commit(files)
    changes = {k: v for k, v in counts.as_dict().items() if set(v) - {"kept"}}
    previous = Removal.objects.filter(household_id=household.pk, reason=reason, rule=rule).first()
    if previous is not None and not changes:
        return previous
    return Removal.objects.create(
        reason=reason,
        rule=rule,
        organisation=organisation or household.initiative,
        household_id=household.pk,
        performed_by=performed_by,
        details={
            **counts.as_dict(),
            "files": {"deleted": len(files)},
            **({"request": {"reason": request_reason}} if request_reason else {}),
        },
    )


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text


def is_erased(household: Household) -> bool:
    return household.name == ERASED and Removal.objects.filter(household_id=household.pk).exists()
