"""The retention job: what each initiative's periods say has expired is removed.

An initiative sets four periods in days (privacy.models.SETTABLE); without a setting
the default below applies, and a stored value outside today's bounds is read as the
nearest bound. Every night `purge()` looks, per organisation and per category, for what
has expired and removes it:

- inactive dossiers: a household is inactive when none of its cases is open and nothing
  happened to it for the whole period: no sign-up, case change, timeline entry, visit,
  task, invitation, dossier edit, message, document, photo, report, consent given or
  withdrawn, NIP application change, and no login of one of its residents. Staff only
  looking at a dossier does not keep it. Such a household is erased
  by privacy.erasure.household_erase, which writes its own proof per household. An open
  case keeps a household however quiet it is: closing it is the coordinator's decision.
- photos: deleted (row and files) once they are older than the period and no case of
  the household is open or was closed within the period. Photos serve the visit and
  the advice; once the case has been closed for a while they have done their work.
- exports: export files the server keeps, deleted with their row once older than the
  period. Lists an initiative downloads are made while they stream and never stored,
  so today this rule finds only the RVO monitoring files of municipalities (which
  nip.monitoring already empties after a day; the rows go here).
- audit entries: auditlog entries older than the period about objects of the
  initiative (its households, dossiers, cases and what hangs off them, its settings and
  people, and the access and export log entries about them), deleted in one statement
  per model. Entries whose object is gone cannot be traced to an initiative; they go
  once older than the longest period any initiative may choose.

A municipality's NIP grant records (privacy.register: Retention.LEGAL) are kept under
the municipality's legal duty: no initiative's setting reaches them or their audit
entries, and an erased household's application stays (it points at the dwelling).

Each (organisation, category) runs in its own transaction with its proof, so a run
that stops half-way leaves every removal it finished with its proof and the rest for
the next night; what was removed is found no more, so a second run writes nothing.
Stored files are deleted only after the transaction commits. Logs and proof carry
counts and ids, never a removed value.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from celery.exceptions import SoftTimeLimitExceeded
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.access import policy_of
from accounts.models import Organisation, User
from crm import pipeline
from crm.models import Case, CaseEvent, Task, Visit
from dataplatform.models import Channel, ConsentRecord
from dossier.models import (
    AdviceReport,
    Document,
    Dossier,
    DossierMeasure,
    DossierSection,
    Household,
    Message,
    Photo,
    ValueRecord,
)
from nip.models import Application, MonitoringExport
from privacy import erasure
from privacy.models import Removal, RetentionSetting
from privacy.register import REGISTER, Retention

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)

# Periods are counted in days of 24 hours on aware (UTC) times: a daylight-saving change
# moves the moment of expiry by an hour at most, never by a day.
DAY = dt.timedelta(days=1)
# Ids kept in the proof per model: enough to answer "was this one removed?" for a
# normal night, without a night after a long pause writing a megabyte of JSON.
MAX_IDS = 1000


@dataclass(frozen=True)
class Period:
    """One settable category: its default and bounds in days, and what expiry means."""

    category: Retention
    default: int
    minimum: int
    maximum: int
    # Plain words for the coordinator: what is removed, from when it counts.
    explanation: str | Promise


PERIODS: dict[str, Period] = {
    period.category.value: period
    for period in (
        # Two years after the last activity: long enough for the follow-up months after
        # the advice and for a second measure (ISDE doubles within 24 months); at least a
        # year, because the follow-up asks after three months what was done; at most
        # five, after which a dossier describes a home that has changed.
        Period(
            Retention.INACTIVE_DOSSIERS,
            default=730,
            minimum=365,
            maximum=1825,
            explanation=_(
                "A household whose cases are all closed or withdrawn, and for which nothing "
                "happened in this period (no change to its dossier or case, no message, "
                "visit or task, no login of its residents), is erased: name, address "
                "details, contact details, the dossier, documents, photos and reports are "
                "removed. A household with an open case is never erased. Grant records "
                "that a municipality must keep by law stay with the municipality."
            ),
        ),
        # Photos serve the visit and the advice; a year after the case closed they have
        # done their work. At least a month, so a closed case can still be reopened.
        Period(
            Retention.PHOTOS,
            default=365,
            minimum=30,
            maximum=1825,
            explanation=_(
                "Photos taken in a home are deleted when they are older than this period "
                "and the household's case was closed or withdrawn at least this long ago. "
                "While a case is open, its photos stay."
            ),
        ),
        # Server copies of exports are for fetching the file, not for keeping it.
        Period(
            Retention.EXPORTS,
            default=30,
            minimum=1,
            maximum=365,
            explanation=_(
                "Export files that Woningdossier keeps on the server are deleted when they "
                "are older than this period. Lists you download are made at that moment and "
                "not kept on the server; that you downloaded one stays in the audit entries."
            ),
        ),
        # Accountability (AVG art. 5(2), BIO2 8.15): who saw or changed which home must be
        # answerable for a complaint or a breach found months later, over at least one
        # yearly audit. Beyond five years the log itself is a store of personal data.
        Period(
            Retention.AUDIT,
            default=730,
            minimum=365,
            maximum=1825,
            explanation=_(
                "Audit entries (who changed or looked at which household, dossier or case, "
                "and who downloaded which export) are deleted when they are older than this "
                "period."
            ),
        ),
    )
}


def bounded(category: str, days: int) -> int:
    """The days to apply: a value outside the category's bounds is read as the nearest bound."""
    period = PERIODS[category]
    return min(max(days, period.minimum), period.maximum)


def retention_days(*, organisation: Organisation) -> dict[str, int]:
    """The days that apply to each settable category of this organisation."""
    stored = dict(
        RetentionSetting.objects.filter(organisation=organisation).values_list("category", "days")
    )
    return {
        category: bounded(category, stored.get(category, period.default))
        for category, period in PERIODS.items()
    }


@dataclass(frozen=True)
class CategoryState:
    """A category as the settings page shows it."""

    period: Period
    days: int
    is_default: bool
    updated_at: dt.datetime | None
    updated_by: User | None


def retention_overview(*, organisation: Organisation) -> list[CategoryState]:
    """Each settable category with the days that apply and who last set them."""
    stored = {
        setting.category: setting
        for setting in RetentionSetting.objects.filter(organisation=organisation).select_related(
            "updated_by"
        )
    }
    states = []
    for category, period in PERIODS.items():
        setting = stored.get(category)
        states.append(
            CategoryState(
                period=period,
                days=bounded(category, setting.days) if setting else period.default,
                is_default=setting is None,
                updated_at=setting.updated_at if setting else None,
                updated_by=setting.updated_by if setting else None,
            )
        )
    return states


def removal_list(*, organisation: Organisation) -> QuerySet[Removal]:
    """The proof of what was removed of this organisation, newest first."""
    return Removal.objects.filter(organisation=organisation).order_by("-performed_at", "-pk")


def removal_counts(removal: Removal) -> dict[str, int]:
    """Per model label, how many rows a removal deleted or anonymised (from its details).

    The details hold {"<app>.<Model>": {"deleted": n, "anonymised": m}, ...} beside keys
    of their own ("days", "ids", ...), which have no dot in their name.
    """
    counts: dict[str, int] = {}
    for key, value in (removal.details or {}).items():
        if "." not in key or not isinstance(value, dict):
            continue
        total = sum(
            n
            for action, n in value.items()
            # "kept" says what stayed on purpose (an erasure's grant records).
            if action != "kept" and isinstance(n, int) and not isinstance(n, bool)
        )
        if total:
            counts[key] = total
    return counts


def removal_summary(removal: Removal) -> list[tuple[str, int]]:
    """The counts of a removal with each model by its name, as people read it."""
    summary = []
    for label, count in removal_counts(removal).items():
        try:
            name = str(apps.get_model(label)._meta.verbose_name_plural)
        except (LookupError, ValueError):
            name = label
        summary.append((name, count))
    return summary


@transaction.atomic
def retention_settings_save(
    *, organisation: Organisation, days: Mapping[str, int], actor: User
) -> list[str]:
    """Store the chosen days per category; returns the categories that changed.

    All or nothing: a value outside its bounds raises ValidationError before anything is
    written. Each change is an audit entry (old and new days, who, when).
    """
    if organisation.kind != Organisation.Kind.INITIATIVE:
        raise ValidationError(gettext("Only an energy initiative sets retention periods."))
    for category, value in days.items():
        period = PERIODS[category]
        if not period.minimum <= value <= period.maximum:
            raise ValidationError(
                gettext("Choose between %(minimum)s and %(maximum)s days.")
                % {"minimum": period.minimum, "maximum": period.maximum},
                code="out_of_bounds",
            )
    current = retention_days(organisation=organisation)
    changed = []
    for category, value in days.items():
        # An unchanged value is not stored: a category left at its default follows the
        # default, also when a later release changes it.
        if value == current[category]:
            continue
        setting, _created = RetentionSetting.objects.update_or_create(
            organisation=organisation,
            category=category,
            defaults={"days": value, "updated_by": actor},
        )
        LogEntry.objects.log_create(
            setting,
            force_log=True,
            action=LogEntry.Action.UPDATE,
            actor=actor,
            actor_email=actor.email,
            changes={"days": [str(current[category]), str(value)]},
        )
        changed.append(category)
    return changed


# What keeps a household active -----------------------------------------------------------

# (model, path to its household, date-time fields): a row of one of these with one of the
# fields at or after the cutoff is activity, and so keeps the household.
ACTIVITY: tuple[tuple[type[models.Model], str, tuple[str, ...]], ...] = (
    (Case, "household", ("created_at", "updated_at", "closed_at")),
    (CaseEvent, "case__household", ("created_at",)),
    # A planned visit in the future counts as well.
    (Visit, "case__household", ("planned_start", "created_at")),
    (Task, "case__household", ("created_at", "done_at")),
    (Dossier, "household", ("invited_at", "submitted_at")),
    (DossierSection, "dossier__household", ("updated_at",)),
    (ValueRecord, "dossier__household", ("recorded_at",)),
    (DossierMeasure, "dossier__household", ("updated_at",)),
    (Message, "dossier__household", ("created_at",)),
    (Document, "dossier__household", ("created_at",)),
    (Photo, "dossier__household", ("created_at",)),
    (AdviceReport, "dossier__household", ("created_at", "sent_at", "printed_at")),
    (ConsentRecord, "household", ("given_at", "withdrawn_at")),
    # A grant in progress: the municipality may still need the dossier's facts.
    (Application, "household", ("updated_at",)),
)


def _active_since(cutoff: dt.datetime) -> Q:
    """Households with any activity at or after the cutoff, or with an open case."""
    q = Q(created_at__gte=cutoff)
    q |= Q(Exists(Case.objects.filter(household=OuterRef("pk"), status__in=pipeline.OPEN)))
    q |= Q(Exists(User.objects.filter(households=OuterRef("pk"), last_login__gte=cutoff)))
    for model, path, fields in ACTIVITY:
        recent = Q()
        for name in fields:
            recent |= Q(**{f"{name}__gte": cutoff})
        q |= Q(Exists(model._default_manager.filter(recent, **{path: OuterRef("pk")})))
    return q


def inactive_households(*, organisation: Organisation, cutoff: dt.datetime) -> QuerySet[Household]:
    """The initiative's households with no activity since the cutoff, not yet erased."""
    erased = Removal.objects.filter(household_id=OuterRef("pk"))
    return (
        Household.objects.filter(initiative=organisation)
        .exclude(_active_since(cutoff))
        .exclude(Exists(erased))
        .order_by("pk")
    )


def expired_photos(*, organisation: Organisation, cutoff: dt.datetime) -> QuerySet[Photo]:
    """Photos taken before the cutoff of households with no case open or closed since."""
    household = OuterRef("dossier__household")
    keeps = Case.objects.filter(household=household).filter(
        Q(status__in=pipeline.OPEN) | Q(closed_at__gte=cutoff)
    )
    return (
        Photo.objects.filter(dossier__household__initiative=organisation, created_at__lt=cutoff)
        .exclude(Exists(keeps))
        .order_by("pk")
    )


# Stored exports: (model, path to the owning organisation, date-time field, file fields).
EXPORT_SOURCES: tuple[tuple[type[models.Model], str, str, tuple[str, ...]], ...] = (
    (MonitoringExport, "programme__municipality", "created_at", ("file",)),
)


def _audit_models() -> list[tuple[type[models.Model], str]]:
    """The audited models whose rows belong to one organisation, with the path to it.

    The access policies say who owns a row. Left out: models without one owner (a
    dwelling is shared by the initiatives that help its households) and the legal grant
    records, whose history the municipality keeps with them.
    """
    found = []
    for model in auditlog.get_models():
        entry = REGISTER.get(model._meta.label)
        # The NIP app is the municipality's grant administration: its history is kept
        # with the grant records, whatever an initiative sets.
        if entry is None or entry.retention == Retention.LEGAL or model._meta.app_label == "nip":
            continue
        policy = getattr(model, "access_policy", None)
        if policy is None or policy.organisation is None:
            continue
        found.append((model, policy_of(model).organisation or "pk"))
    # A change of a retention period is logged by retention_settings_save.
    found.append((RetentionSetting, "organisation"))
    return found


# The purge -------------------------------------------------------------------------------


def _ids(values: Iterable[Any]) -> list[Any]:
    return [str(v) if not isinstance(v, int) else v for v in list(values)[:MAX_IDS]]


def _prove(*, organisation: Organisation | None, category: str, details: dict[str, Any]) -> Removal:
    removal = Removal.objects.create(
        reason=Removal.Reason.RETENTION,
        rule=category,
        organisation=organisation,
        details=details,
    )
    logger.info(
        "retention %s: organisation %s, removal %s, %s",
        category,
        organisation.pk if organisation else None,
        removal.pk,
        removal_counts(removal),
    )
    return removal


def _locked(queryset: QuerySet) -> QuerySet:
    # Two runs at once (a beat restarted) each take the rows the other has not locked.
    return queryset.select_for_update(skip_locked=True, of=("self",))


def purge_inactive_dossiers(
    *, organisation: Organisation, days: int, now: dt.datetime
) -> list[Removal]:
    """Erase the initiative's households that have been inactive for `days`."""
    cutoff = now - days * DAY
    removals = []
    candidates = list(
        inactive_households(organisation=organisation, cutoff=cutoff).values_list("pk", flat=True)
    )
    for household_id in candidates:
        # One household per transaction: the erasure and its proof commit together.
        with transaction.atomic():
            household = _locked(
                inactive_households(organisation=organisation, cutoff=cutoff).filter(
                    pk=household_id
                )
            ).first()
            if household is None:
                continue  # became active, or another run took it
            removal = erasure.household_erase(
                household=household,
                reason=Removal.Reason.RETENTION,
                rule=Retention.INACTIVE_DOSSIERS.value,
                organisation=organisation,
                withdrawal_channel=Channel.RETENTION,
            )
        logger.info(
            "retention %s: organisation %s, household %s, removal %s",
            Retention.INACTIVE_DOSSIERS.value,
            organisation.pk,
            household_id,
            removal.pk,
        )
        removals.append(removal)
    return removals


def purge_photos(*, organisation: Organisation, days: int, now: dt.datetime) -> Removal | None:
    """Delete the initiative's photos that have expired; their files after commit."""
    cutoff = now - days * DAY
    with transaction.atomic():
        photos = list(
            _locked(expired_photos(organisation=organisation, cutoff=cutoff)).values_list(
                "pk", "image", "thumbnail"
            )
        )
        if not photos:
            return None
        ids = [pk for pk, _image, _thumbnail in photos]
        # Through the ORM, not raw SQL: the audit log records each deletion.
        Photo.objects.filter(pk__in=ids).delete()
        erasure.files_delete_on_commit(
            [name for _pk, *names in photos for name in names], job="retention"
        )
        return _prove(
            organisation=organisation,
            category=Retention.PHOTOS.value,
            details={
                "days": days,
                "before": cutoff.isoformat(),
                "dossier.Photo": {"deleted": len(ids)},
                "ids": {"dossier.Photo": _ids(ids)},
            },
        )


def purge_exports(*, organisation: Organisation, days: int, now: dt.datetime) -> Removal | None:
    """Delete the organisation's stored export files and their rows that have expired."""
    cutoff = now - days * DAY
    with transaction.atomic():
        counts: dict[str, dict[str, int]] = {}
        ids: dict[str, list[Any]] = {}
        names: list[str] = []
        for model, path, moment, file_fields in EXPORT_SOURCES:
            expired = model._default_manager.filter(
                **{path: organisation, f"{moment}__lt": cutoff}
            ).order_by("pk")
            rows = list(_locked(expired).values_list("pk", *file_fields))
            if not rows:
                continue
            pks = [row[0] for row in rows]
            model._default_manager.filter(pk__in=pks).delete()
            names.extend(name for row in rows for name in row[1:])
            counts[model._meta.label] = {"deleted": len(pks)}
            ids[model._meta.label] = _ids(pks)
        if not counts:
            return None
        erasure.files_delete_on_commit(names, job="retention")
        return _prove(
            organisation=organisation,
            category=Retention.EXPORTS.value,
            details={"days": days, "before": cutoff.isoformat(), **counts, "ids": ids},
        )


def purge_audit(*, organisation: Organisation, days: int, now: dt.datetime) -> Removal | None:
    """Delete the audit entries about the initiative's objects that are older than `days`.

    One DELETE per model, with the organisation's rows as a subquery: the entries are
    never loaded into Python, however many there are.
    """

    def about(model: type[models.Model], path: str) -> QuerySet:
        owned = model._default_manager.filter(**{path: organisation.pk}).values("pk")
        return LogEntry.objects.filter(object_id__in=owned)

    return _delete_audit(organisation=organisation, days=days, now=now, entries=about)


def purge_orphaned_audit(*, now: dt.datetime) -> Removal | None:
    """Delete audit entries about rows that are gone, once past the longest audit period.

    Such an entry cannot be traced to an initiative any more; the longest period any
    initiative may choose keeps it at least as long as its own setting would have.
    """

    def about(model: type[models.Model], _path: str) -> QuerySet:
        exists = model._default_manager.filter(pk=OuterRef("object_id"))
        return LogEntry.objects.exclude(Exists(exists))

    days = PERIODS[Retention.AUDIT].maximum
    return _delete_audit(
        organisation=None, days=days, now=now, entries=about, extra={"orphaned": True}
    )


def _delete_audit(
    *,
    organisation: Organisation | None,
    days: int,
    now: dt.datetime,
    entries: Callable[[type[models.Model], str], QuerySet],
    extra: dict[str, Any] | None = None,
) -> Removal | None:
    """One DELETE per audited model of `entries(model, path)` older than `days`, proven."""
    cutoff = now - days * DAY
    with transaction.atomic():
        by_model: dict[str, int] = {}
        for model, path in _audit_models():
            deleted, _per_model = (
                entries(model, path)
                .filter(content_type=ContentType.objects.get_for_model(model), timestamp__lt=cutoff)
                .delete()
            )
            if deleted:
                by_model[model._meta.label] = deleted
        if not by_model:
            return None
        return _prove(
            organisation=organisation,
            category=Retention.AUDIT.value,
            details={
                "days": days,
                "before": cutoff.isoformat(),
                "auditlog.LogEntry": {"deleted": sum(by_model.values())},
                "by_model": by_model,
                **(extra or {}),
            },
        )


PURGES: dict[str, Callable[..., Removal | list[Removal] | None]] = {
    Retention.INACTIVE_DOSSIERS.value: purge_inactive_dossiers,
    Retention.PHOTOS.value: purge_photos,
    Retention.EXPORTS.value: purge_exports,
    Retention.AUDIT.value: purge_audit,
}
# Each category and the kinds of organisation whose data it reaches. A municipality's
# own data is grant records (legal) apart from its stored exports.
KINDS: dict[str, tuple[str, ...]] = {
    Retention.INACTIVE_DOSSIERS.value: (Organisation.Kind.INITIATIVE,),
    Retention.PHOTOS.value: (Organisation.Kind.INITIATIVE,),
    Retention.EXPORTS.value: (Organisation.Kind.INITIATIVE, Organisation.Kind.MUNICIPALITY),
    Retention.AUDIT.value: (Organisation.Kind.INITIATIVE,),
}


def purge(now: dt.datetime | None = None) -> list[Removal]:
    """Remove what has expired, for every organisation and category; returns the proof.

    Meant for the daily task. Safe to run twice and to stop half-way (see the module's
    docstring). One organisation's failing category does not hold up the others: it is
    logged, the run goes on, and the first failure is raised at the end so the task
    shows as failed.
    """
    now = now or timezone.now()
    removals: list[Removal] = []
    failures: list[Exception] = []

    def attempt(category: str, organisation: Organisation | None, run: Callable[[], Any]) -> None:
        try:
            result = run()
        except SoftTimeLimitExceeded:
            raise  # the worker wants the task to stop; the next night goes on from here
        except Exception as exc:
            # The exception's text may quote a row; the log gets its kind only.
            logger.error(
                "retention %s: organisation %s failed: %s",
                category,
                organisation.pk if organisation else None,
                type(exc).__name__,
            )
            failures.append(exc)
            return
        if isinstance(result, list):
            removals.extend(result)
        elif result is not None:
            removals.append(result)

    for organisation in Organisation.objects.order_by("pk"):
        days = retention_days(organisation=organisation)
        for category, purge_category in PURGES.items():
            if organisation.kind in KINDS[category]:
                attempt(
                    category,
                    organisation,
                    functools.partial(
                        purge_category, organisation=organisation, days=days[category], now=now
                    ),
                )
    attempt(Retention.AUDIT.value, None, functools.partial(purge_orphaned_audit, now=now))
    if failures:
        raise failures[0]
    return removals
