"""Postcode-6 aggregation of 1,000,000 dwellings against a bare GROUP BY over the same table.

PostgreSQL only: DATABASE_URL points at a throwaway, migrated database, and this runs
inside it (`manage.py shell -c "from bench.dp_aggregate import main; main()"`).

Setup, in SQL (INSERT ... SELECT generate_series, not the ORM): about 450,000 postcodes,
most with 1–3 homes and about one in 112 with 20–60, 1,000,000 dwellings over 40
municipalities, each with a household of one initiative, a dossier (label, dwelling
type, build year) and three measures with a status, and an active consent for aggregates
for about 70 %. Then the table the aggregation reads, one row per consenting household
(dataplatform.shared), is filled by `shared_households_check`, the nightly recount that
the publication job runs first (timed: `check_s`). Then ANALYZE.

Timed, alternating, 3 runs each, median:
- aggregate: the selector's raw counts of the pc6 level
  (dataplatform.aggregation.level_counts with K: households per postcode, one query per
  municipality, then the characteristics of the postcodes of at least K households),
  executed, fetched and assembled in Python; no suppression;
- floor: `SELECT postcode, count(*) FROM <that table> WHERE <initiative and
  municipalities> GROUP BY postcode`, executed and fetched;
- joined floor: the same bare count over the join of household, dwelling and active
  consent that the aggregation read before that table existed.
Then once each: the Python suppression of the pc6 level with its municipality totals,
and a whole publication_make for a province over all 40 municipalities.
Prints `BENCH-DP-AGGREGATE {json}`. Target: aggregate / floor at most 1.5.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

POSTCODES = 450_000
MUNICIPALITIES = 40
RUNS = 3
TARGET = 1.5
K = 10
CONSENT_PERCENT = 70
MEASURES_PER_DOSSIER = 3

# Per postcode number p: one in 112 holds 20–60 homes, the others 1, 2 or 3 (1.875 on
# average); about 1,000,000 in all. Letters B/C + A–Z avoid the unused SA, SD and SS.
POSTCODE_SQL = f"""
CREATE TEMPORARY TABLE bench_postcode AS
SELECT p,
       (1000 + p / 50)::text || chr(66 + (p % 50) / 26) || chr(65 + (p % 50) % 26) AS postcode,
       'GM' || lpad((p / {POSTCODES // MUNICIPALITIES})::text, 4, '0') AS municipality_code,
       'BU' || lpad((p / 250)::text, 8, '0') AS neighbourhood_code,
       'WK' || lpad((p / 2500)::text, 6, '0') AS district_code,
       CASE WHEN p % 112 = 0 THEN 20 + (p * 79) % 41
            ELSE (ARRAY[1, 1, 1, 2, 2, 2, 3, 3])[1 + (p * 13) % 8] END AS homes
FROM generate_series(0, {POSTCODES - 1}) AS p
"""  # noqa: S608

LABELS = ["A++", "A+", "A", "B", "C", "D", "E", "F", "G", "", ""]
TYPES = ["detached", "semi_detached", "corner", "terraced", "terraced", "apartment", ""]
STATUSES = ["done", "done", "wanted_now", "later", "", "not_interested"]


def _quoted(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]::text[]"


def _insert(cursor: Any, table: str, values: dict[str, str], source: str) -> None:
    """INSERT INTO table SELECT ...: the given columns, every other NOT NULL one a blank."""
    cursor.execute(
        "SELECT column_name, data_type, is_identity FROM information_schema.columns "
        "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL",
        [table],
    )
    blanks = {
        "character varying": "''",
        "text": "''",
        "boolean": "false",
        "integer": "0",
        "smallint": "0",
        "bigint": "0",
        "numeric": "0",
        "jsonb": "'{}'::jsonb",
        "timestamp with time zone": "now()",
        "date": "current_date",
    }
    columns = dict(values)
    for name, data_type, is_identity in cursor.fetchall():
        if is_identity == "YES" or name in columns:
            continue
        columns[name] = blanks[data_type]
    names = ", ".join(columns)
    cursor.execute(f"INSERT INTO {table} ({names}) SELECT {', '.join(columns.values())} {source}")


def build(cursor: Any) -> dict[str, Any]:
    """The synthetic data set; returns the initiative, the province and the counts."""
    from accounts.models import Municipality, Organisation
    from dataplatform.models import ConsentText, Level, Purpose, SharingAgreement
    from dossier.models import MeasureType

    started = time.monotonic()
    initiative = Organisation.objects.create(kind="initiative", name="Bench", slug="bench-dp")
    province = Organisation.objects.create(kind="province", name="Provincie", slug="bench-prov")
    codes = [f"GM{n:04d}" for n in range(MUNICIPALITIES)]
    province.municipalities.set(
        [Municipality.objects.get_or_create(code=c, defaults={"name": c})[0] for c in codes]
    )
    SharingAgreement.objects.create(
        initiative=initiative,
        recipient=province,
        level=Level.PC6,
        valid_from="2020-01-01",
        reference="BENCH",
        document="dataplatform/agreements/bench.pdf",
    )
    text = ConsentText.objects.create(
        purpose=Purpose.AGGREGATES,
        version="bench",
        title="Bench",
        text="Bench.",
        valid_from="2020-01-01T00:00:00Z",
    )
    type_ids = list(MeasureType.objects.order_by("id").values_list("id", flat=True))

    cursor.execute(POSTCODE_SQL)
    _insert(
        cursor,
        "dossier_dwelling",
        {
            "postcode": "pc.postcode",
            "house_number": "n",
            "street": "'Benchstraat'",
            "city": "'Benchdorp'",
            "municipality_code": "pc.municipality_code",
            "neighbourhood_code": "pc.neighbourhood_code",
            "district_code": "pc.district_code",
            "build_year": "1900 + (pc.p * 7 + n * 13) % 125",
        },
        "FROM bench_postcode pc, generate_series(1, pc.homes) AS n",
    )
    _insert(
        cursor,
        "dossier_household",
        {"initiative_id": str(initiative.id), "dwelling_id": "dw.id", "name": "'Bench'"},
        "FROM dossier_dwelling dw",
    )
    _insert(
        cursor,
        "dossier_dossier",
        {
            "household_id": "h.id",
            "energy_label": f"({_quoted(LABELS)})[1 + h.id % {len(LABELS)}]",
            "energy_label_kind": (
                f"CASE WHEN ({_quoted(LABELS)})[1 + h.id % {len(LABELS)}] = '' "
                "THEN '' ELSE 'registered' END"
            ),
            "dwelling_type": f"({_quoted(TYPES)})[1 + (h.id / 3) % {len(TYPES)}]",
            "build_year": "CASE WHEN h.id % 17 = 0 THEN NULL ELSE dw.build_year END",
        },
        "FROM dossier_household h JOIN dossier_dwelling dw ON dw.id = h.dwelling_id",
    )
    type_array = "ARRAY[" + ", ".join(map(str, type_ids)) + "]"
    _insert(
        cursor,
        "dossier_dossiermeasure",
        {
            "dossier_id": "d.id",
            "measure_type_id": f"({type_array})[1 + (d.id + j * 7) % {len(type_ids)}]",
            "status": f"({_quoted(STATUSES)})[1 + (d.id * 5 + j) % {len(STATUSES)}]",
            "done_year": "NULL",
        },
        f"FROM dossier_dossier d, generate_series(0, {MEASURES_PER_DOSSIER - 1}) AS j",
    )
    _insert(
        cursor,
        "dataplatform_consentrecord",
        {
            "household_id": "h.id",
            "purpose": f"'{Purpose.AGGREGATES}'",
            "text_id": str(text.id),
            "given_at": "now()",
            "channel": "'online'",
        },
        f"FROM dossier_household h WHERE (h.id * 37) % 100 < {CONSENT_PERCENT}",
    )
    for table in (
        "dossier_dwelling",
        "dossier_household",
        "dossier_dossier",
        "dossier_dossiermeasure",
        "dataplatform_consentrecord",
    ):
        cursor.execute(f"ANALYZE {table}")
    # The households in the aggregates, as dataplatform.shared keeps them: here all at
    # once, with the nightly check that computes every row (timed: its cost per night).
    from dataplatform.shared import shared_households_check

    check_started = time.monotonic()
    shared_households_check()
    check_s = time.monotonic() - check_started
    cursor.execute("VACUUM ANALYZE dataplatform_sharedhousehold")
    cursor.execute("SELECT count(*), count(DISTINCT postcode) FROM dossier_dwelling")
    dwellings, postcodes = cursor.fetchone()
    print(f"data set ready in {time.monotonic() - started:.0f} s")
    return {
        "check_s": check_s,
        "initiative": initiative,
        "province": province,
        "codes": codes,
        "dwellings": dwellings,
        "postcodes": postcodes,
    }


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    from django.db import connection

    from dataplatform.aggregation import (
        POSTGRESQL_SETTINGS,
        level_counts,
        shared_households_sql,
    )
    from dataplatform.models import Level
    from dataplatform.publication import publication_make
    from dataplatform.suppression import suppress

    if connection.vendor != "postgresql":
        raise SystemExit("bench/dp_aggregate.py needs PostgreSQL (DATABASE_URL).")
    with connection.cursor() as cursor:
        data = build(cursor)
        ids, codes = [data["initiative"].id], data["codes"]
        source, source_params = shared_households_sql(initiative_ids=ids, municipality_codes=codes)
        floor_sql = f"SELECT s.postcode, count(*) {source} GROUP BY s.postcode"
        joined_sql = (
            "SELECT dw.postcode, count(*) FROM dossier_household h "
            "JOIN dossier_dwelling dw ON dw.id = h.dwelling_id "
            "JOIN dataplatform_consentrecord c ON c.household_id = h.id "
            "AND c.purpose = 'aggregates' AND c.withdrawn_at IS NULL GROUP BY dw.postcode"
        )
        # The settings the selector runs with, for all three queries alike.
        for setting in POSTGRESQL_SETTINGS:
            cursor.execute(setting.replace("SET LOCAL", "SET"))

        def query(sql: str, params: list[object]) -> Callable[[], object]:
            def run() -> object:
                cursor.execute(sql, params)
                return cursor.fetchall()

            return run

        def aggregate_run() -> object:
            return level_counts(Level.PC6, initiative_ids=ids, municipality_codes=codes, k=K)

        floor_run = query(floor_sql, source_params)
        table_run = query(joined_sql, [])
        # One warm-up each: the first run reads the tables into the buffer cache.
        for run in (aggregate_run, floor_run, table_run):
            run()
        times: dict[str, list[float]] = {"aggregate": [], "floor": [], "table": []}
        for _ in range(RUNS):
            times["aggregate"].append(_timed(aggregate_run))
            times["floor"].append(_timed(floor_run))
            times["table"].append(_timed(table_run))

    raw = level_counts(Level.PC6, initiative_ids=ids, municipality_codes=codes, k=K)
    totals = level_counts(Level.MUNICIPALITY, initiative_ids=ids, municipality_codes=codes)
    suppression_s = _timed(lambda: suppress([raw.table(), totals.table()], k=K, compact=True))
    publication_s = _timed(lambda: publication_make(recipient=data["province"], k=K))

    aggregate_s = statistics.median(times["aggregate"])
    floor_s = statistics.median(times["floor"])
    result = {
        "dwellings": data["dwellings"],
        "postcodes": data["postcodes"],
        "consenting_households": raw.households,
        "aggregate_s": round(aggregate_s, 3),
        "floor_s": round(floor_s, 3),
        "ratio": round(aggregate_s / floor_s, 2),
        "target": TARGET,
        "joined_floor_s": round(statistics.median(times["table"]), 3),
        "suppression_s": round(suppression_s, 3),
        "publication_s": round(publication_s, 3),
        "check_s": round(data["check_s"], 1),
    }
    print("BENCH-DP-AGGREGATE " + json.dumps(result))
