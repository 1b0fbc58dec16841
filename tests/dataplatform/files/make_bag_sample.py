"""Write bag-light-sample.gpkg: a few De Bilt addresses in the shape of the BAG light GeoPackage.

The national "BAG light" file (PDOK) is an SQLite database with GeoPackage metadata
tables and one table per object type. This sample has the metadata tables a GeoPackage
reader expects and a `verblijfsobject` table with the columns the importer reads, plus a
few it ignores; `geom` holds a real GeoPackage point blob (RD New, EPSG:28992).

Run from the repository root: python tests/dataplatform/files/make_bag_sample.py
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

TARGET = Path(__file__).with_name("bag-light-sample.gpkg")
RD_NEW = 28992
# The date the importer takes as the file's date (gpkg_contents.last_change).
LAST_CHANGE = "2026-11-08T06:00:00.000Z"

IN_USE = "Verblijfsobject in gebruik"
# (identificatie, postcode, huisnummer, huisletter, toevoeging, straat, woonplaats, bouwjaar,
#  oppervlakte, gebruiksdoel, status, pand)
OBJECTS = [
    (
        "0310010000100001",
        "3731AB",
        1,
        None,
        None,
        "Dorpsstraat",
        "De Bilt",
        1965,
        112,
        "woonfunctie",
        IN_USE,
        "0310100000200001",
    ),
    (
        "0310010000100003",
        "3731AB",
        3,
        None,
        None,
        "Dorpsstraat",
        "De Bilt",
        1965,
        98,
        "woonfunctie",
        IN_USE,
        "0310100000200001",
    ),
    (
        "0310010000100005",
        "3731AB",
        5,
        "A",
        None,
        "Dorpsstraat",
        "De Bilt",
        1972,
        64,
        "woonfunctie",
        IN_USE,
        "0310100000200002",
    ),
    (
        "0310010000100010",
        "3731AC",
        10,
        None,
        "2",
        "Hessenweg",
        "De Bilt",
        1978,
        71,
        "woonfunctie",
        IN_USE,
        "0310100000200003",
    ),
    (
        "0310010000100012",
        "3731AC",
        12,
        None,
        None,
        "Hessenweg",
        "De Bilt",
        1999,
        147,
        "woonfunctie",
        IN_USE,
        "0310100000200004",
    ),
    (
        "0310010000100014",
        "3731AC",
        14,
        None,
        None,
        "Hessenweg",
        "De Bilt",
        1932,
        188,
        "woonfunctie",
        "Verblijfsobject in gebruik (niet ingemeten)",
        "0310100000200005",
    ),
    (
        "0310010000100102",
        "3731AD",
        2,
        None,
        None,
        "Groenekanseweg",
        "De Bilt",
        2023,
        121,
        "woonfunctie",
        IN_USE,
        "0310100000200006",
    ),
    # Being built: not a home yet.
    (
        "0310010000100109",
        "3731AD",
        9,
        None,
        None,
        "Groenekanseweg",
        "De Bilt",
        2026,
        210,
        "woonfunctie",
        "Verblijfsobject gevormd",
        "0310100000200007",
    ),
    # An office: not a home.
    (
        "0310010000100201",
        "3731AE",
        1,
        None,
        None,
        "Soestdijkseweg Zuid",
        "De Bilt",
        1988,
        840,
        "kantoorfunctie",
        IN_USE,
        "0310100000200008",
    ),
    (
        "0310010000100304",
        "3732AB",
        4,
        None,
        None,
        "Kerklaan",
        "De Bilt",
        1958,
        87,
        "woonfunctie",
        IN_USE,
        "0310100000200009",
    ),
    (
        "0310010000100306",
        "3732AB",
        6,
        None,
        "bis",
        "Kerklaan",
        "De Bilt",
        1958,
        60,
        "woonfunctie",
        IN_USE,
        "0310100000200009",
    ),
    # A shop with a home above it: a home.
    (
        "0310010000100308",
        "3732AB",
        8,
        None,
        None,
        "Kerklaan",
        "De Bilt",
        1930,
        104,
        "winkelfunctie,woonfunctie",
        IN_USE,
        "0310100000200013",
    ),
    # Withdrawn.
    (
        "0310010000100411",
        "3732AC",
        11,
        None,
        None,
        "Looydijk",
        "De Bilt",
        1961,
        92,
        "woonfunctie",
        "Verblijfsobject ingetrokken",
        "0310100000200010",
    ),
    # A home without a postcode: a bad row.
    (
        "0310010000100521",
        None,
        21,
        None,
        None,
        "Weltevredenlaan",
        "De Bilt",
        1975,
        78,
        "woonfunctie",
        IN_USE,
        "0310100000200011",
    ),
    (
        "0310010000100523",
        "3732AD",
        23,
        None,
        None,
        "Weltevredenlaan",
        "De Bilt",
        1975,
        95,
        "woonfunctie",
        IN_USE,
        "0310100000200011",
    ),
    (
        "0310010000100630",
        "3732AE",
        30,
        None,
        None,
        "Jan Steenlaan",
        "Bilthoven",
        2001,
        133,
        "woonfunctie",
        IN_USE,
        "0310100000200012",
    ),
]


def point(x: float, y: float) -> bytes:
    """A GeoPackage geometry blob: header (magic, version, flags, srs id) and a WKB point."""
    header = b"GP" + bytes([0, 0b00000001]) + struct.pack("<i", RD_NEW)
    return header + struct.pack("<BIdd", 1, 1, x, y)


def main() -> None:
    TARGET.unlink(missing_ok=True)
    db = sqlite3.connect(TARGET)
    db.execute("PRAGMA page_size = 1024")
    db.execute("PRAGMA application_id = 1196444487")  # "GPKG"
    db.execute("PRAGMA user_version = 10300")
    db.executescript(
        """
        CREATE TABLE gpkg_spatial_ref_sys (
            srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
            organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
            description TEXT);
        CREATE TABLE gpkg_contents (
            table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
            identifier TEXT UNIQUE, description TEXT DEFAULT '',
            last_change DATETIME NOT NULL, min_x DOUBLE, min_y DOUBLE, max_x DOUBLE,
            max_y DOUBLE, srs_id INTEGER);
        CREATE TABLE gpkg_geometry_columns (
            table_name TEXT NOT NULL, column_name TEXT NOT NULL,
            geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL,
            m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));
        CREATE TABLE verblijfsobject (
            fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom POINT,
            feature_id TEXT, identificatie TEXT, rdf_seealso TEXT,
            nummeraanduiding_hoofdadres_identificatie TEXT, openbare_ruimte_naam TEXT,
            huisnummer INTEGER, huisletter TEXT, toevoeging TEXT, postcode TEXT,
            woonplaats_naam TEXT, gebruiksdoel TEXT, oppervlakte INTEGER, status TEXT,
            bouwjaar INTEGER, pand_identificatie TEXT, pand_status TEXT);
        """
    )
    db.execute(
        "INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
        ("Amersfoort / RD New", RD_NEW, "EPSG", RD_NEW, "undefined", "RD New"),
    )
    db.execute(
        "INSERT INTO gpkg_contents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "verblijfsobject",
            "features",
            "verblijfsobject",
            "BAG light sample",
            LAST_CHANGE,
            139000.0,
            455000.0,
            141000.0,
            457000.0,
            RD_NEW,
        ),
    )
    db.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, ?, ?)",
        ("verblijfsobject", "geom", "POINT", RD_NEW, 0, 0),
    )
    for n, (
        vbo,
        postcode,
        number,
        letter,
        addition,
        street,
        city,
        year,
        area,
        uses,
        status,
        pand,
    ) in enumerate(OBJECTS):
        db.execute(
            "INSERT INTO verblijfsobject (geom, feature_id, identificatie, rdf_seealso, "
            "nummeraanduiding_hoofdadres_identificatie, openbare_ruimte_naam, huisnummer, "
            "huisletter, toevoeging, postcode, woonplaats_naam, gebruiksdoel, oppervlakte, "
            "status, bouwjaar, pand_identificatie, pand_status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                point(140000.0 + n * 12.5, 456000.0 + n * 7.25),
                f"verblijfsobject.{n + 1}",
                vbo,
                f"http://bag.basisregistraties.overheid.nl/bag/id/verblijfsobject/{vbo}",
                "0310200000" + vbo[-6:],
                street,
                number,
                letter,
                addition,
                postcode,
                city,
                uses,
                area,
                status,
                year,
                pand,
                "Pand in gebruik",
            ),
        )
    db.commit()
    db.execute("VACUUM")
    db.close()


if __name__ == "__main__":
    main()
