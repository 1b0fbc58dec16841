"""Keep `SharedHousehold` in step: one row per household whose aggregates consent is active.

A publication groups this one table (dataplatform.aggregation) instead of joining the
household, its dwelling, its consent, its dossier and the dossier's measures. The row
of a household is computed again, inside the transaction that changed it:

- by the signals below, when a dwelling, household, dossier or measure is saved or a
  measure deleted (a save whose `update_fields` leaves the characteristics alone is
  skipped);
- when a consent record for aggregates is saved (given, or withdrawn).

A queryset `.update()` or `bulk_create` sends no signal. `shared_households_check` (a
nightly job, before the publications) computes every row again, puts right what
differs and logs how many rows it had to put right: more than 0 means a path that
changes house characteristics without telling this module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps as global_apps
from django.db.models import Exists, OuterRef

from dossier.models import MeasureStatus

logger = logging.getLogger(__name__)

BATCH = 2000

# The columns of SharedHousehold besides its key, and the values they are computed from.
SOURCES = {
    "initiative_id": "initiative_id",
    "municipality_code": "dwelling__municipality_code",
    "postcode": "dwelling__postcode",
    "neighbourhood_code": "dwelling__neighbourhood_code",
    "district_code": "dwelling__district_code",
    "energy_label": "dossier__energy_label",
    "dwelling_type": "dossier__dwelling_type",
    "build_year": "dossier__build_year",
}
COLUMNS = (*SOURCES, "measures_done", "measures_wanted")

# The fields whose change can change a household's row.
DWELLING_FIELDS = frozenset(
    {"postcode", "municipality_code", "neighbourhood_code", "district_code"}
)
HOUSEHOLD_FIELDS = frozenset({"initiative", "initiative_id", "dwelling", "dwelling_id"})
DOSSIER_FIELDS = frozenset({"energy_label", "dwelling_type", "build_year", "household"})
MEASURE_FIELDS = frozenset({"status", "measure_type", "measure_type_id", "dossier"})


@dataclass(frozen=True)
class Models:
    """The models this module reads and writes: the app registry's, or a migration's."""

    household: Any
    dossier_measure: Any
    consent: Any
    shared: Any

    @classmethod
    def of(cls, apps: Any = global_apps) -> Models:
        return cls(
            household=apps.get_model("dossier", "Household"),
            dossier_measure=apps.get_model("dossier", "DossierMeasure"),
            consent=apps.get_model("dataplatform", "ConsentRecord"),
            shared=apps.get_model("dataplatform", "SharedHousehold"),
        )


# A bigint holds bits 0 to 62 without its sign bit; bit `id` stands for measure type `id`.
MASK_LAST_ID = 62


def measures_mask(type_ids: Iterable[int]) -> int:
    """The bit mask SharedHousehold stores: bits 3 and 7 for measure types 3 and 7.

    A measure type with an id above MASK_LAST_ID is not in the mask and not counted in
    the aggregates (dataplatform.aggregation logs a warning when one exists).
    """
    mask = 0
    for type_id in set(type_ids):
        if 0 < type_id <= MASK_LAST_ID:
            mask |= 1 << type_id
    return mask


def _rows(models: Models, household_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The rows the households should have; a household without active consent has none."""
    active = models.consent.objects.filter(
        household=OuterRef("pk"), purpose="aggregates", withdrawn_at__isnull=True
    )
    households = (
        models.household.objects.filter(pk__in=list(household_ids), dossier__isnull=False)
        .filter(Exists(active))
        .values("pk", "dossier__pk", *SOURCES.values())
    )
    rows: dict[int, dict[str, Any]] = {}
    dossiers: dict[int, int] = {}
    for values in households:
        rows[values["pk"]] = {column: values[source] for column, source in SOURCES.items()}
        dossiers[values["dossier__pk"]] = values["pk"]
    measures: dict[int, dict[str, list[int]]] = {pk: {"done": [], "wanted": []} for pk in rows}
    statuses = {MeasureStatus.DONE: "done", MeasureStatus.WANTED_NOW: "wanted"}
    found = models.dossier_measure.objects.filter(
        dossier_id__in=list(dossiers), status__in=list(statuses)
    ).values_list("dossier_id", "measure_type_id", "status")
    for dossier_id, type_id, status in found:
        measures[dossiers[dossier_id]][statuses[status]].append(type_id)
    for pk, row in rows.items():
        for name in ("municipality_code", "neighbourhood_code", "district_code", "energy_label"):
            row[name] = row[name] or ""
        row["dwelling_type"] = row["dwelling_type"] or ""
        row["measures_done"] = measures_mask(measures[pk]["done"])
        row["measures_wanted"] = measures_mask(measures[pk]["wanted"])
    return rows


def _apply(models: Models, household_ids: list[int]) -> int:
    """Make the rows of these households what they should be; returns the rows changed."""
    wanted = _rows(models, household_ids)
    if not wanted:
        # One DELETE: SharedHousehold has no signals and nothing refers to it.
        deleted, _ = models.shared.objects.filter(household_id__in=household_ids).delete()
        return deleted
    existing = {
        values["household_id"]: values
        for values in models.shared.objects.filter(household_id__in=household_ids).values(
            "household_id", *COLUMNS
        )
    }
    gone = [pk for pk in existing if pk not in wanted]
    changed = [
        models.shared(household_id=pk, **row)
        for pk, row in wanted.items()
        if existing.get(pk) is None
        or any(existing[pk][column] != row[column] for column in COLUMNS)
    ]
    if gone:
        models.shared.objects.filter(household_id__in=gone).delete()
    if changed:
        models.shared.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["household"],
            update_fields=list(COLUMNS),
        )
    return len(gone) + len(changed)


def shared_households_refresh(household_ids: Iterable[int]) -> int:
    """Compute the rows of these households again, in the caller's transaction."""
    ids = sorted(set(household_ids))
    if not ids:
        return 0
    return sum(_apply(Models.of(), ids[n : n + BATCH]) for n in range(0, len(ids), BATCH))


def _all_ids(models: Models) -> Iterator[list[int]]:
    """Every household that has a row or should have one, in batches by id."""
    consenting = models.consent.objects.filter(
        purpose="aggregates", withdrawn_at__isnull=True
    ).values_list("household_id", flat=True)
    shared = models.shared.objects.values_list("household_id", flat=True)
    ids = sorted(set(consenting) | set(shared))
    for n in range(0, len(ids), BATCH):
        yield ids[n : n + BATCH]


def shared_households_check(*, apps: Any = global_apps, warn: bool = True) -> int:
    """Compute every row again and put right what differs; returns how many were wrong.

    `warn=False` when filling the table the first time (its migration).
    """
    models = Models.of(apps)
    fixed = sum(_apply(models, batch) for batch in _all_ids(models))
    if fixed and warn:
        logger.warning("dataplatform.shared: %d household rows were out of step", fixed)
    return fixed


# ---------------------------------------------------------------------------------------
# Signal receivers (connected in DataplatformConfig.ready)


def _touches(update_fields: Iterable[str] | None, fields: frozenset[str]) -> bool:
    return update_fields is None or bool(fields.intersection(update_fields))


def on_dwelling_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created or not _touches(kwargs.get("update_fields"), DWELLING_FIELDS):
        return
    ids = instance.households.values_list("pk", flat=True)
    shared_households_refresh(ids)


def on_household_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # A new household has no consent yet.
    if not created and _touches(kwargs.get("update_fields"), HOUSEHOLD_FIELDS):
        shared_households_refresh([instance.pk])


def on_dossier_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if _touches(kwargs.get("update_fields"), DOSSIER_FIELDS):
        shared_households_refresh([instance.household_id])


def on_consent_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.purpose == "aggregates":
        shared_households_refresh([instance.household_id])


def on_dossier_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    shared_households_refresh([instance.household_id])


def on_measure_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("created") and not instance.status:
        return
    if "created" in kwargs and not _touches(kwargs.get("update_fields"), MEASURE_FIELDS):
        return
    from dossier.models import Dossier

    if type(instance).dossier.is_cached(instance):
        # A measure loaded through its dossier (a topic's save) knows it: no query.
        household_id = instance.dossier.household_id
    else:
        dossiers = Dossier.objects.filter(pk=instance.dossier_id)
        household_id = dossiers.values_list("household_id", flat=True).first()
    if household_id is not None:
        shared_households_refresh([household_id])
