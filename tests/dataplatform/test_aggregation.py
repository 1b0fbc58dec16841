"""The grouped SQL counts: what a plain Python count says, only from consenting households."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

import pytest
from django.utils import timezone

from dataplatform.aggregation import BUILD_YEAR_BANDS, aggregate, level_counts
from dataplatform.models import Channel, Level, Purpose
from dataplatform.suppression import HOUSEHOLDS, SMALL
from dossier.models import Dossier, DossierMeasure, Household, LabelKind
from tests import builders
from tests.dataplatform.builders import give_consent

ALL_LEVELS = [Level.PC6, Level.NEIGHBOURHOOD, Level.DISTRICT, Level.MUNICIPALITY]


def make_home(
    initiative,
    *,
    postcode: str = "3731AB",
    municipality: str = "GM0310",
    neighbourhood: str = "BU03100001",
    district: str = "WK031000",
    label: str = "",
    dwelling_type: str = "terraced",
    build_year: int | None = 1965,
    done: Iterable[str] = (),
    wanted: Iterable[str] = (),
    consent: bool = True,
    name: str = "Familie Test",
) -> Household:
    """A household with a dossier, its measures and (by default) consent for aggregates."""
    dwelling = builders.make_dwelling(
        postcode=postcode,
        municipality_code=municipality,
        neighbourhood_code=neighbourhood,
        district_code=district,
        street="Geheimstraat",
    )
    household = builders.make_household(initiative, dwelling=dwelling, name=name)
    Dossier.objects.filter(household=household).update(
        energy_label=label,
        energy_label_kind=LabelKind.REGISTERED if label else "",
        dwelling_type=dwelling_type,
        build_year=build_year,
        gas_m3_per_year=1234,
    )
    for status, codes in (("done", done), ("wanted_now", wanted)):
        DossierMeasure.objects.filter(
            dossier__household=household, measure_type__code__in=list(codes)
        ).update(status=status)
    if consent:
        give_consent(household, Purpose.AGGREGATES)
    return household


def withdraw(household: Household) -> None:
    record = household.consents.get(purpose=Purpose.AGGREGATES, withdrawn_at__isnull=True)
    record.withdrawn_at = timezone.now()
    record.withdrawal_channel = Channel.ONLINE
    record.save()


def band_of(year: int | None) -> str:
    for name, first, last in BUILD_YEAR_BANDS:
        if year is not None and (first is None or year >= first) and (last is None or year <= last):
            return name
    return "unknown"


def python_counts(households: Iterable[Household], level: str) -> dict[str, Counter]:
    """The same counts, one household at a time."""
    area_of = {
        Level.PC6: lambda d: d.postcode,
        Level.NEIGHBOURHOOD: lambda d: d.neighbourhood_code,
        Level.DISTRICT: lambda d: d.district_code,
        Level.MUNICIPALITY: lambda d: d.municipality_code,
    }[level]
    counts: dict[str, Counter] = {}
    fresh = Household.objects.filter(id__in=[h.id for h in households])
    for household in fresh.select_related("dwelling", "dossier"):
        area = area_of(household.dwelling)
        if not area:
            continue
        dossier = household.dossier
        counter = counts.setdefault(area, Counter())
        counter[HOUSEHOLDS] += 1
        counter[f"label:{dossier.energy_label or 'unknown'}"] += 1
        counter[f"dwelling_type:{dossier.dwelling_type or 'unknown'}"] += 1
        counter[f"build_year:{band_of(dossier.build_year)}"] += 1
        for measure in dossier.measures.all():
            if measure.status == "done":
                counter[f"measure_done:{measure.measure_type.code}"] += 1
            elif measure.status == "wanted_now":
                counter[f"measure_wanted:{measure.measure_type.code}"] += 1
    return counts


def nonzero(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {area: {m: c for m, c in row.items() if c} for area, row in counts.items()}


@pytest.fixture
def homes(cast) -> list[Household]:
    """Consenting homes of initiative A in two postcodes, two neighbourhoods and one without."""
    a = cast.initiative_a
    return [
        make_home(a, label="D", done=["cavity_wall_insulation", "hr_glass"]),
        make_home(a, label="D", dwelling_type="corner", build_year=1930, wanted=["heat_pump"]),
        make_home(a, label="A+++", dwelling_type="detached", build_year=2010),
        make_home(a, build_year=None, dwelling_type="", done=["hr_glass"], wanted=["solar_panels"]),
        make_home(a, postcode="3731AC", neighbourhood="BU03100002", label="G", build_year=1975),
        make_home(a, postcode="3731AC", neighbourhood="", district="", build_year=1992),
        make_home(a, postcode="3731AC", label="C", build_year=2005, done=["heat_pump"]),
    ]


@pytest.mark.parametrize("level", ALL_LEVELS)
def test_the_sql_counts_equal_a_python_count(cast, homes, level):
    raw = level_counts(level, initiative_ids=[cast.initiative_a.id], municipality_codes=["GM0310"])
    expected = python_counts(homes, level)
    assert nonzero(raw.counts) == {area: dict(counter) for area, counter in expected.items()}
    assert set(raw.municipality.values()) == {"GM0310"}


def test_every_partition_adds_up_to_the_households(cast, homes):
    raw = level_counts(
        Level.PC6, initiative_ids=[cast.initiative_a.id], municipality_codes=["GM0310"]
    )
    for counts in raw.counts.values():
        for prefix in ("label:", "dwelling_type:", "build_year:"):
            parts = sum(c for m, c in counts.items() if m.startswith(prefix))
            assert parts == counts[HOUSEHOLDS]
        assert counts["measure_done:floor_insulation"] == 0


def test_a_dwelling_without_a_code_is_left_out_of_that_level_only(cast, homes):
    ids = [cast.initiative_a.id]
    neighbourhoods = level_counts(
        Level.NEIGHBOURHOOD, initiative_ids=ids, municipality_codes=["GM0310"]
    )
    pc6 = level_counts(Level.PC6, initiative_ids=ids, municipality_codes=["GM0310"])
    assert neighbourhoods.households == 6
    assert pc6.households == 7
    assert sorted(neighbourhoods.counts) == ["BU03100001", "BU03100002"]


def test_only_households_with_active_consent_for_aggregates_count(cast, homes):
    ids = [cast.initiative_a.id]
    without = make_home(cast.initiative_a, consent=False)
    other_purpose = make_home(cast.initiative_a, consent=False)
    give_consent(other_purpose, Purpose.PROCESSING)
    withdrawn = make_home(cast.initiative_a)
    withdraw(withdrawn)
    raw = level_counts(Level.MUNICIPALITY, initiative_ids=ids, municipality_codes=["GM0310"])
    assert raw.counts["GM0310"][HOUSEHOLDS] == len(homes)
    # The cast's own households never gave consent: they do not count either.
    assert Household.objects.count() == len(homes) + 3 + 3
    assert without.id and other_purpose.id


def test_consent_given_again_after_a_withdrawal_counts_once(cast, homes):
    withdraw(homes[0])
    give_consent(homes[0], Purpose.AGGREGATES)
    raw = level_counts(
        Level.MUNICIPALITY, initiative_ids=[cast.initiative_a.id], municipality_codes=["GM0310"]
    )
    assert raw.counts["GM0310"][HOUSEHOLDS] == len(homes)


def test_households_of_other_initiatives_are_left_out(cast, homes):
    make_home(cast.initiative_b, label="D")
    raw = level_counts(
        Level.PC6, initiative_ids=[cast.initiative_a.id], municipality_codes=["GM0310"]
    )
    assert raw.counts["3731AB"][HOUSEHOLDS] == 4
    both = level_counts(
        Level.PC6,
        initiative_ids=[cast.initiative_a.id, cast.initiative_b.id],
        municipality_codes=["GM0310"],
    )
    assert both.counts["3731AB"][HOUSEHOLDS] == 5


def test_only_the_given_municipalities_count(cast, homes):
    make_home(cast.initiative_a, postcode="3511AA", municipality="GM1904")
    ids = [cast.initiative_a.id]
    utrecht = level_counts(Level.PC6, initiative_ids=ids, municipality_codes=["GM1904"])
    assert utrecht.counts.keys() == {"3511AA"}
    assert utrecht.municipality == {"3511AA": "GM1904"}
    assert level_counts(Level.PC6, initiative_ids=ids, municipality_codes=[]).counts == {}
    assert level_counts(Level.PC6, initiative_ids=[], municipality_codes=["GM0310"]).counts == {}


def test_a_postcode_in_two_municipalities_belongs_to_the_one_with_most_households(cast):
    a = cast.initiative_a
    make_home(a, postcode="3731ZZ", municipality="GM1904")
    make_home(a, postcode="3731ZZ", municipality="GM0310")
    make_home(a, postcode="3731ZZ", municipality="GM0310")
    raw = level_counts(Level.PC6, initiative_ids=[a.id], municipality_codes=["GM0310", "GM1904"])
    assert raw.counts["3731ZZ"][HOUSEHOLDS] == 3
    assert raw.municipality["3731ZZ"] == "GM0310"


def test_aggregate_suppresses_small_cells(cast, homes):
    # In a municipality of their own: in GM0310 the municipality total minus 3731AD would
    # give the 7 households of the small areas, and 3731AD would be suppressed too.
    for _ in range(10):
        make_home(
            cast.initiative_a, postcode="3511AD", municipality="GM1904", label="E", build_year=1950
        )
    cells = aggregate(
        Level.PC6,
        initiative_ids=[cast.initiative_a.id],
        municipality_codes=["GM0310", "GM1904"],
        k=10,
    )
    by_key = {(c.area, c.measure): c for c in cells}
    assert by_key[("3511AD", HOUSEHOLDS)].count == 10
    assert by_key[("3511AD", "label:E")].count == 10
    assert by_key[("3511AD", "build_year:1945-1974")].count == 10
    assert by_key[("3511AD", "label:D")].count is None
    # Areas below K are one suppressed households cell.
    assert [(c.measure, c.count, c.reason) for c in cells if c.area == "3731AB"] == [
        (HOUSEHOLDS, None, SMALL)
    ]
    assert {c.level for c in cells} == {Level.PC6}
    assert {c.municipality for c in cells} == {"GM0310", "GM1904"}


def test_an_area_is_suppressed_when_its_municipality_total_would_give_the_small_areas(cast, homes):
    for _ in range(10):
        make_home(cast.initiative_a, postcode="3731AD", label="E", build_year=1950)
    cells = aggregate(
        Level.PC6, initiative_ids=[cast.initiative_a.id], municipality_codes=["GM0310"], k=10
    )
    by_key = {(c.area, c.measure): c for c in cells}
    # GM0310 has 17 households: publishing the 10 of 3731AD would give away the other 7.
    assert by_key[("3731AD", HOUSEHOLDS)].count is None
    assert by_key[("3731AD", HOUSEHOLDS)].reason == "complementary"


def test_no_personal_field_ever_appears_in_a_cell(cast, homes):
    for _ in range(12):
        make_home(
            cast.initiative_a, postcode="3511AD", municipality="GM1904", name="Familie Geheim"
        )
    cells = aggregate(
        Level.PC6,
        initiative_ids=[cast.initiative_a.id],
        municipality_codes=["GM0310", "GM1904"],
        k=5,
    )
    allowed = ("households", "label:", "dwelling_type:", "build_year:", "measure_")
    for cell in cells:
        assert cell.measure.startswith(allowed)
        text = f"{cell.area} {cell.municipality} {cell.measure}"
        for personal in ("Geheim", "Familie", "Teststraat", "1234", "gas"):
            assert personal not in text
    assert any(cell.count == 12 for cell in cells)


def test_withdrawal_at_any_time_before_the_count_takes_effect(cast, homes):
    household = homes[0]
    record = household.consents.get()
    record.withdrawn_at = record.given_at + dt.timedelta(seconds=1)
    record.withdrawal_channel = Channel.PAPER
    record.save()
    raw = level_counts(
        Level.PC6, initiative_ids=[cast.initiative_a.id], municipality_codes=["GM0310"]
    )
    assert raw.counts["3731AB"][HOUSEHOLDS] == 3


def test_with_k_only_the_large_areas_are_counted_in_full(cast, homes):
    a = cast.initiative_a
    large = [
        make_home(a, postcode="3731AE", label="E", done=["floor_insulation"]) for _ in range(5)
    ]
    # A border postcode among the small ones: its municipality comes from the first pass.
    make_home(a, postcode="3731ZZ", municipality="GM1904")
    make_home(a, postcode="3731ZZ")
    make_home(a, postcode="3731ZZ")
    scope = {"initiative_ids": [a.id], "municipality_codes": ["GM0310", "GM1904"]}
    full = level_counts(Level.PC6, **scope)

    two_pass = level_counts(Level.PC6, k=5, **scope)

    # 5 of 15 households live in a large area: the second pass reads only those.
    assert two_pass.counts["3731AE"] == full.counts["3731AE"]
    assert two_pass.counts["3731AE"]["measure_done:floor_insulation"] == 5
    assert len(large) == 5
    for area in ("3731AB", "3731AC", "3731ZZ"):
        assert two_pass.counts[area] == {HOUSEHOLDS: full.counts[area][HOUSEHOLDS]}
    assert two_pass.municipality == full.municipality
    assert two_pass.municipality["3731ZZ"] == "GM0310"


def test_with_k_a_level_of_mostly_large_areas_is_counted_in_one_pass(cast, homes):
    scope = {"initiative_ids": [cast.initiative_a.id], "municipality_codes": ["GM0310"]}
    full = level_counts(Level.DISTRICT, **scope)

    with_k = level_counts(Level.DISTRICT, k=5, **scope)

    assert with_k.counts == full.counts and with_k.municipality == full.municipality
    assert with_k.counts["WK031000"]["label:D"] == 2


@pytest.mark.parametrize("k", [5, 10])
def test_the_published_cells_are_the_same_with_or_without_the_first_pass(cast, homes, k):
    from dataplatform.suppression import suppress

    a = cast.initiative_a
    for _ in range(k):
        make_home(a, postcode="3731AE", label="E", done=["floor_insulation"])
    scope = {"initiative_ids": [a.id], "municipality_codes": ["GM0310"]}
    totals = level_counts(Level.MUNICIPALITY, **scope)
    one_pass = suppress(
        [level_counts(Level.PC6, **scope).table(), totals.table()], k=k, compact=True
    )
    two_pass = suppress(
        [level_counts(Level.PC6, k=k, **scope).table(), totals.table()], k=k, compact=True
    )

    assert two_pass == one_pass
    # The large area is there with every measure, the small ones with one cell each.
    assert len([cell for cell in two_pass if cell.area == "3731AE"]) > 10
    assert len([cell for cell in two_pass if cell.area == "3731AB"]) == 1


def test_each_postcode_knows_the_neighbourhood_it_lies_wholly_inside(cast):
    a = cast.initiative_a
    make_home(a, postcode="3731AF", neighbourhood="BU03100001")
    make_home(a, postcode="3731AF", neighbourhood="BU03100001")
    make_home(a, postcode="3731AG", neighbourhood="BU03100001")
    make_home(a, postcode="3731AG", neighbourhood="BU03100002")
    # Most households in small postcodes: the two-pass path.
    for postcode in ("3731AH", "3731AJ", "3731AK", "3731AL", "3731AM"):
        make_home(a, postcode=postcode, neighbourhood="BU03100002")
    scope = {"initiative_ids": [a.id], "municipality_codes": ["GM0310"]}

    pc6 = level_counts(Level.PC6, k=2, **scope)
    in_one_pass = level_counts(Level.PC6, **scope)
    neighbourhoods = level_counts(Level.NEIGHBOURHOOD, k=5, **scope)

    # Only areas counted in full need it: the suppression groups those alone (an area
    # below K is suppressed whole). 3731AG crosses the border; 3731AH and on are below K.
    assert pc6.parent == {"3731AF": "BU03100001"}
    assert in_one_pass.parent == {
        "3731AF": "BU03100001",
        **dict.fromkeys(["3731AH", "3731AJ", "3731AK", "3731AL", "3731AM"], "BU03100002"),
    }
    assert pc6.table().parent_level == Level.NEIGHBOURHOOD
    assert neighbourhoods.parent == {"BU03100001": "WK031000", "BU03100002": "WK031000"}
