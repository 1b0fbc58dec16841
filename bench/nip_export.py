"""The NIP's RVO monitoring export against writing the same rows with bare xlsxwriter.

bench/run.py runs `main()` inside its throwaway demo database (through `manage.py shell`).
It adds two programmes of a municipality of its own, with 10,000 and 100,000 granted
homes whose measures were executed in the first half of 2024 (bulk-created, so setting
up takes seconds, not minutes).

Speed: one run of the real path is what a download costs: the one grouped query read in
chunks, the rows built, and accounts.exports writing the XLSX file (constant memory,
every cell with the writer for its type). The floor is bare xlsxwriter in constant-memory
mode writing the same rows, already in a list, with `write_row`. Runs alternate between
the two, so a machine that slows down slows both. Target: at most 1.5.

Memory: the peak of Python's allocations (tracemalloc) while the real path writes the
10,000 and the 100,000 homes. Rows are read in chunks and xlsxwriter writes each row to
disk as it goes, so the two peaks should be about the same: the ratio stays near 1×.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import statistics
import tempfile
import time
import tracemalloc
from decimal import Decimal
from typing import Any

import xlsxwriter

HOMES = 10_000
LARGE_HOMES = 100_000
RUNS = 3
TARGET = 1.5
PERIOD = (dt.date(2024, 1, 1), dt.date(2024, 6, 30))
BATCH = 2000
# A typical mix: every home a cavity wall, most glass, some a roof by the residents
# themselves, a few ventilation.
LABELS = ("D", "E", "F", "G", "")


def _block(programme: Any, homes: int, postcode: str) -> None:
    """The first `homes` applications of a programme, at one postcode, with bulk_create."""
    from dossier.models import Dwelling, MeasureType
    from nip.models import Application, ExecutedMeasure

    dwellings = Dwelling.objects.bulk_create(
        (
            Dwelling(
                postcode=postcode,
                house_number=n + 1,
                house_letter="A" if n % 7 == 0 else "",
                street=f"Benchstraat {n % 40}",
                city="Benchdorp",
                municipality_code="GM0310",
            )
            for n in range(homes)
        ),
        batch_size=BATCH,
    )
    applications = Application.objects.bulk_create(
        (
            Application(
                programme=programme,
                dwelling=dwelling,
                status="approved" if n % 3 else "completed",
                intake_channel="municipality",
                owner_occupied=True,
                energy_label=LABELS[n % len(LABELS)],
                woz_below_limit=n % 9 != 0,
                eligibility={"poor_elements": ["facade", "windows"]} if n % 2 else {},
                shell_floor="poor",
                shell_roof="poor" if n % 3 else "insulated",
                amount_granted_eur=Decimal("1460"),
                debt_relief=n % 10 == 0,
            )
            for n, dwelling in enumerate(dwellings)
        ),
        batch_size=BATCH,
    )
    types = dict(MeasureType.objects.values_list("code", "pk"))

    def measures():
        for n, application in enumerate(applications):
            day = PERIOD[0] + dt.timedelta(days=n % 180)
            common = {"application_id": application.pk, "executed_on": day, "cost_eur": 2000}
            yield ExecutedMeasure(
                measure_type_id=types["cavity_wall_insulation"],
                area_m2=Decimal("55.5"),
                rd_value=Decimal("1.3"),
                done_by="third_party",
                **common,
            )
            if n % 4:
                yield ExecutedMeasure(
                    measure_type_id=types["hr_glass"],
                    area_m2=Decimal("12"),
                    u_value=Decimal("1.1"),
                    done_by="third_party",
                    **common,
                )
            if n % 5 == 0:
                yield ExecutedMeasure(
                    measure_type_id=types["roof_insulation"],
                    area_m2=Decimal("32.25"),
                    rd_value=Decimal("3.5"),
                    done_by="diy",
                    **common,
                )
            if n % 11 == 0:
                yield ExecutedMeasure(
                    measure_type_id=types["balanced_ventilation"], done_by="third_party", **common
                )

    ExecutedMeasure.objects.bulk_create(measures(), batch_size=BATCH)


def _copy_sql(model: Any, overrides: dict[str, str], source: str, where: str) -> str:
    """INSERT ... SELECT of every column of `model` but its id, some replaced by expressions."""
    from django.db import connection

    quote = connection.ops.quote_name
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    chosen = [overrides.get(column, f"src.{quote(column)}") for column in columns]
    table = quote(model._meta.db_table)
    names = ", ".join(map(quote, columns))
    values = ", ".join(chosen)
    # Names come from the models and expressions from this module; values are parameters.
    return f"INSERT INTO {table} ({names}) SELECT {values} FROM {source} WHERE {where}"  # noqa: S608


def _copy_block(programme: Any, source_postcode: str, postcode: str) -> None:
    """The block of homes at `source_postcode` once more at `postcode`, inside the database.

    bulk_create spends most of its time preparing every field of every object in Python
    (about a millisecond per home with its measures): 100,000 homes would take minutes.
    Copying a block with INSERT ... SELECT takes milliseconds.
    """
    from django.db import connection

    from dossier.models import Dwelling
    from nip.models import Application, ExecutedMeasure

    quote = connection.ops.quote_name
    dwelling = quote(Dwelling._meta.db_table)
    application = quote(Application._meta.db_table)
    # The copy of a home: same number, letter and addition at the new postcode.
    same_home = (
        "d2.postcode = %s AND d2.house_number = d.house_number "
        "AND d2.house_letter = d.house_letter "
        "AND d2.house_number_addition = d.house_number_addition"
    )
    copy_of_dwelling = f"(SELECT d2.id FROM {dwelling} d2 WHERE {same_home})"  # noqa: S608
    joined = f"{application} a2 JOIN {dwelling} d2 ON a2.dwelling_id = d2.id"
    copy_of_application = f"(SELECT a2.id FROM {joined} WHERE a2.programme_id = %s AND {same_home})"  # noqa: S608
    statements = [
        (
            _copy_sql(Dwelling, {"postcode": "%s"}, f"{dwelling} src", "src.postcode = %s"),
            [postcode, source_postcode],
        ),
        (
            _copy_sql(
                Application,
                {"dwelling_id": copy_of_dwelling},
                f"{application} src JOIN {dwelling} d ON src.dwelling_id = d.id",
                "src.programme_id = %s AND d.postcode = %s",
            ),
            [postcode, programme.pk, source_postcode],
        ),
        (
            _copy_sql(
                ExecutedMeasure,
                {"application_id": copy_of_application},
                f"{quote(ExecutedMeasure._meta.db_table)} src "
                f"JOIN {application} a ON src.application_id = a.id "
                f"JOIN {dwelling} d ON a.dwelling_id = d.id",
                "a.programme_id = %s AND d.postcode = %s",
            ),
            [programme.pk, postcode, programme.pk, source_postcode],
        ),
    ]
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


def populate(homes: int, *, tranche: int, municipality: Any, block: int = 1000) -> Any:
    """A programme with `homes` granted applications and their measures in H1 2024."""
    from django.db import transaction

    from nip.models import Programme

    if homes % block:
        raise ValueError("homes must be a multiple of the block")
    with transaction.atomic():
        programme = Programme.objects.create(
            municipality=municipality,
            name=f"Bench tranche {tranche}",
            tranche=tranche,
            period_start=dt.date(2023, 1, 1),
            period_end=dt.date(2026, 12, 31),
            measures_from=dt.date(2023, 1, 1),
            spend_deadline=dt.date(2026, 12, 31),
            target_homes=homes,
            reporting_period="half_year",
        )
        # One postcode per block of homes, its own range per tranche.
        postcodes = [f"{1000 + tranche * 1000 + n}AB" for n in range(homes // block)]
        _block(programme, block, postcodes[0])
        for postcode in postcodes[1:]:
            _copy_block(programme, postcodes[0], postcode)
    return programme


def _period() -> Any:
    from nip.monitoring import Period

    return Period(*PERIOD)


def export_xlsx(programme: Any) -> float:
    """The real path once, into an anonymous temporary file; returns the seconds it took."""
    from nip import monitoring

    period = _period()
    with tempfile.TemporaryFile() as handle:
        started = time.perf_counter()
        monitoring.monitoring_file_write(
            handle,
            programme=programme,
            period=period,
            fmt="xlsx",
            rows=monitoring.monitoring_rows(programme=programme, period=period),
        )
        return time.perf_counter() - started


def bare_xlsx(header: tuple[str, ...], rows: list[list[Any]]) -> float:
    """The floor: bare xlsxwriter writing rows already in memory; returns the seconds."""
    from accounts.exports import XLSX_OPTIONS

    with tempfile.TemporaryFile() as handle:
        started = time.perf_counter()
        workbook = xlsxwriter.Workbook(handle, XLSX_OPTIONS)
        sheet = workbook.add_worksheet()
        sheet.write_row(0, 0, header)
        for number, row in enumerate(rows, start=1):
            sheet.write_row(number, 0, row)
        workbook.close()
        return time.perf_counter() - started


def peak_memory(programme: Any) -> int:
    """The peak of Python's allocations, in bytes, while the real path writes the file."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        export_xlsx(programme)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def count_queries(programme: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        export_xlsx(programme)
    return len(captured.captured_queries)


def measure(
    homes: int = HOMES, large_homes: int = LARGE_HOMES, runs: int = RUNS, block: int = 1000
) -> dict[str, Any]:
    from accounts.models import Organisation
    from nip import monitoring

    municipality = Organisation.objects.create(
        kind=Organisation.Kind.MUNICIPALITY, name="Benchgemeente", slug="bench-nip-export"
    )
    started = time.perf_counter()
    small = populate(homes, tranche=7, municipality=municipality, block=block)
    large = populate(large_homes, tranche=8, municipality=municipality, block=block)
    setup_s = time.perf_counter() - started

    period = _period()
    rows = list(monitoring.monitoring_rows(programme=small, period=period))
    if len(rows) != homes:
        raise RuntimeError(f"the export holds {len(rows)} homes instead of {homes}")
    header = monitoring.header(period)
    real: list[float] = []
    floor: list[float] = []
    # The first round warms both paths up and is not counted; the order alternates.
    for round_ in range(runs + 1):
        if round_ % 2:
            spent, alone = export_xlsx(small), bare_xlsx(header, rows)
        else:
            alone, spent = bare_xlsx(header, rows), export_xlsx(small)
        if round_:
            real.append(spent)
            floor.append(alone)
    del rows
    queries = count_queries(small)
    peak_small = peak_memory(small)
    peak_large = peak_memory(large)
    real_s = statistics.median(real)
    floor_s = statistics.median(floor)
    return {
        "homes": homes,
        "runs": runs,
        "setup_s": round(setup_s, 1),
        "export_s": round(real_s, 3),
        "xlsxwriter_s": round(floor_s, 3),
        "ratio": round(real_s / floor_s, 3),
        "queries": queries,
        "large_homes": large_homes,
        "peak_kib": round(peak_small / 1024),
        "peak_large_kib": round(peak_large / 1024),
        "memory_ratio": round(peak_large / peak_small, 2),
    }


def main(homes: int = HOMES, large_homes: int = LARGE_HOMES, runs: int = RUNS) -> None:
    print("BENCH-NIP-EXPORT", json.dumps(measure(homes, large_homes, runs)))
