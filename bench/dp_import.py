"""The EP-Online label import against a bare PostgreSQL COPY of the same file.

bench/run.py runs `main()` inside `manage.py shell` with DATABASE_URL pointing at a
throwaway, migrated PostgreSQL database. It writes a synthetic EP-Online CSV of 300,000
rows (the preamble line and the 37 columns of tests/dataplatform/files/ep-online-sample.csv;
one address in twenty has a second, older label, one row in a hundred is a permit
application, one in fifty a utility building) into a temporary folder.

The floor is a bare `COPY ... FROM STDIN (FORMAT csv)` of that file into an UNLOGGED table
of 37 text columns: no checks, no conversion, no index. The real path is
`dataplatform.opendata.opendata_import` of the same file into an empty label table: every
row read and checked (column by column in Python, per row only where a column check
fails), the 12 columns the table needs streamed with COPY into a temporary staging table,
and merged with one INSERT of the latest recording per address (the table's key set
aside while the empty table fills, and rebuilt after). Both tables are emptied before
each run and runs alternate between the two; the medians are compared as rows per
second. Target: the import reaches at least half the rate of COPY (ratio >= 0.5).
`reimport_s` is one more run of the import over the filled table (every row compared,
none written), for information.

`measure(rows=..., runs=...)` returns the figures; `main()` prints the BENCH-DP-IMPORT line.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = 300_000
RUNS = 3
TARGET = 0.5
SAMPLE = Path(__file__).resolve().parent.parent / "tests/dataplatform/files/ep-online-sample.csv"
FLOOR_TABLE = "bench_dp_import_copy"
LABELS = ("A+++", "A++", "A+", "A", "B", "C", "D", "E", "F", "G")
TYPES = (
    "Rijwoning tussen",
    "Rijwoning hoek",
    "Twee-onder-één-kap",
    "Vrijstaande woning",
    "Appartement",
)


def _header() -> list[str]:
    with SAMPLE.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("Pand_"):
                return line.rstrip("\r\n").split(";")
    raise RuntimeError(f"no header in {SAMPLE}")


def write_file(path: Path, rows: int = ROWS) -> list[str]:
    """A synthetic EP-Online file of `rows` rows; returns its header."""
    header = _header()
    position = {name: n for n, name in enumerate(header)}
    template = [""] * len(header)
    fixed = {
        "Pand_opnametype": "Basisopname",
        "Pand_berekeningstype": "NTA 8800:2023 (basismethode)",
        "Pand_energielabel_is_prive": "False",
        "Pand_is_op_basis_van_referentie_gebouw": "False",
        "Pand_energiebehoefte": "112,40",
        "Pand_primaire_fossiele_energie": "250,12",
        "Pand_primaire_fossiele_energie_EMG_forfaitair": "250,12",
        "Pand_aandeel_hernieuwbare_energie": "12,3",
        "Pand_warmtebehoefte": "98,10",
    }
    for name, value in fixed.items():
        template[position[name]] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("PublicatieDatum;01-09-2026\r\n")
        handle.write(";".join(header) + "\r\n")
        address = 0
        for n in range(rows):
            # One address in twenty gets a second, older label on the next line.
            second = n % 20 == 1
            if not second:
                address += 1
            row = list(template)
            pc = 1000 + address // 400
            letters = chr(65 + address // 20 % 20) + chr(66 + address % 20)
            year = 2008 + n % 17 - (3 if second else 0)
            day = f"{year}{1 + n % 12:02d}{1 + n % 28:02d}"
            row[position["Pand_opnamedatum"]] = day
            row[position["Pand_registratiedatum"]] = day
            row[position["Meting_geldig_tot"]] = f"{year + 10}{day[4:]}"
            row[position["Pand_status"]] = "Vergunningsaanvraag" if n % 100 == 7 else "Bestaand"
            row[position["Pand_gebouwklasse"]] = "U" if n % 50 == 3 else "W"
            row[position["Pand_energieklasse"]] = LABELS[n % len(LABELS)]
            row[position["Pand_postcode"]] = f"{pc}{letters}"
            row[position["Pand_huisnummer"]] = str(1 + address % 20)
            row[position["Pand_huisnummer_toev"]] = "A" if address % 13 == 0 else ""
            row[position["Pand_bagverblijfsobjectid"]] = f"{address:016d}"
            row[position["Pand_bagpandid"]] = f"{address // 4:016d}"
            row[position["Pand_gebouwtype"]] = TYPES[address % len(TYPES)]
            row[position["Pand_gebruiksoppervlakte"]] = f"{60 + address % 90},{n % 100:02d}"
            handle.write(";".join(row) + "\r\n")
    return header


def bare_copy(path: Path, columns: int) -> float:
    """The floor: COPY of the whole file into an empty UNLOGGED table of text columns."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        names = ", ".join(f"c{n} text" for n in range(columns))
        cursor.execute(f"CREATE UNLOGGED TABLE {FLOOR_TABLE} ({names})")
        with path.open(encoding="utf-8", newline="") as handle:
            handle.readline()  # the preamble line; COPY skips the header itself
            started = time.perf_counter()
            cursor.cursor.copy_expert(
                f"COPY {FLOOR_TABLE} FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true)",
                handle,
                size=1 << 17,
            )
            spent = time.perf_counter() - started
        cursor.execute(f"SELECT count(*) FROM {FLOOR_TABLE}")  # noqa: S608
        copied = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {FLOOR_TABLE}")
    if copied != ROWS_WRITTEN[0]:
        raise RuntimeError(f"COPY read {copied} rows instead of {ROWS_WRITTEN[0]}")
    return spent


ROWS_WRITTEN = [ROWS]


def real_import(path: Path, *, empty_first: bool = True) -> tuple[float, int]:
    """The real path once; returns the seconds and the labels written."""
    from django.db import connection

    from dataplatform.models import RegisteredLabel
    from dataplatform.opendata import opendata_import

    if empty_first:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(RegisteredLabel._meta.db_table)}")
    started = time.perf_counter()
    run, _report = opendata_import(kind="ep_online", path=path)
    spent = time.perf_counter() - started
    if run.rows_read != ROWS_WRITTEN[0]:
        raise RuntimeError(f"the import read {run.rows_read} rows instead of {ROWS_WRITTEN[0]}")
    return spent, run.rows_written


def measure(rows: int = ROWS, runs: int = RUNS) -> dict[str, Any]:
    """The medians of `runs` rounds of COPY and of the import, after one warm-up round."""
    from django.db import connection

    if connection.vendor != "postgresql":
        raise RuntimeError("bench/dp_import.py compares with PostgreSQL's COPY: set DATABASE_URL")
    ROWS_WRITTEN[0] = rows
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ep-online-bench.csv"
        header = write_file(path, rows)
        size = os.path.getsize(path)
        copies: list[float] = []
        imports: list[float] = []
        written = 0
        # The first round warms both paths up and is not counted; the order alternates.
        for round_ in range(runs + 1):
            if round_ % 2:
                spent, written = real_import(path)
                floor = bare_copy(path, len(header))
            else:
                floor = bare_copy(path, len(header))
                spent, written = real_import(path)
            if round_:
                copies.append(floor)
                imports.append(spent)
        reimport_s, _ = real_import(path, empty_first=False)
    copy_s = statistics.median(copies)
    import_s = statistics.median(imports)
    return {
        "rows": rows,
        "file_mib": round(size / 2**20, 1),
        "runs": runs,
        "labels_written": written,
        "copy_s": round(copy_s, 3),
        "import_s": round(import_s, 3),
        "reimport_s": round(reimport_s, 3),
        "copy_rows_per_s": round(rows / copy_s),
        "import_rows_per_s": round(rows / import_s),
        "ratio": round(copy_s / import_s, 3),
        "target": TARGET,
    }


def main(rows: int = ROWS, runs: int = RUNS) -> None:
    print("BENCH-DP-IMPORT", json.dumps(measure(rows, runs)))
