"""The first calculation parameter set (2024-1), with the source of every figure.

Figures marked verified=True come from the seed documents (seed 004, Milieu Centraal's
corner-house table) or a primary source; the rest start unverified, as DOMAIN.md asks,
until an administrator has checked them and cleared the flag. Change figures through
the admin as a new version, never by editing this migration.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import migrations

SEED = "Seed 004 (Milieu Centraal, hoekwoning, 2024)"
MC_CAVITY = "Milieu Centraal, spouwmuurisolatie: geveloppervlak per woningtype"
ISDE_2024 = "RVO ISDE woningeigenaren, bedragen 2024 (seed 004 klopt voor dak, spouw, vloer, glas)"
ISDE_MIN = "RVO ISDE woningeigenaren, kleinste en grootste oppervlakte"
HOOM = "Kengetallen Hoomdossier (Ecodenl/Woningdossier, Kengetallen.php)"
HOOM_SHARE = "Hoomdossier BuildingTypeElementMaxSaving (hoekwoning)"
HOOM_BOILER = "Hoomdossier KeyFigureBoilerEfficiencies (verwarming)"
CBS_DD = "CBS 80182ned: graaddagen De Bilt 1981-2010, basis 18 °C"
CALIBRATED = "Afgestemd op de spouwmuurtabel van Milieu Centraal (gemiddeld 17 °C, warmtewinst)"
U_PHYSICS = "Bouwfysica: U = 1 / (Rc + 0,17); Rd van de maatregel uit de ISDE-eis"
U_CALIBRATED = "Bouwfysica, b afgestemd op de hoekwoning van seed 004 (vloer, dak, glas)"
STANDARD = "Kamerbrief 18-3-2021 (kst-30196-749), tabel zoals overgenomen door Aedes"
NIP = "SPUK lokale aanpak isolatie, eerste tranche: € 1.460 per woning"
GAS_9 = "Seed 004 bijlage 2: gas (m³) ÷ woonoppervlakte × 9"
TEAM = "Schatting van het ontwikkelteam; controleer voor gebruik"
MC_PRICE = "Milieu Centraal, verwachte energieprijzen (2024): gas € 1,45/m³"
MC_HOME = "Milieu Centraal: doorsnee tussen- of hoekwoning; woonoppervlakte aangenomen door het team"

# (key, value, unit, source, verified)
PARAMETERS: list[tuple[str, str, str, str, bool]] = [
    ("price.gas_eur_per_m3", "1.45", "€/m³", MC_PRICE, False),
    ("price.electricity_eur_per_kwh", "0.35", "€/kWh", HOOM, False),
    ("price.heat_eur_per_gj", "47.00", "€/GJ", TEAM, False),
    ("co2.kg_per_m3_gas", "1.88", "kg/m³", HOOM, True),
    ("co2.kg_per_kwh_electricity", "0.335", "kg/kWh", HOOM, False),
    ("co2.kg_per_gj_heat", "36", "kg/GJ", TEAM, False),
    ("climate.degree_days", "2884", "K·day", CBS_DD, True),
    ("climate.effective_share", "0.5", "", CALIBRATED, True),
    ("gas.kwh_per_m3", "8.79", "kWh/m³", "31,65 MJ/m³ (onderwaarde) ÷ 3,6", True),
    ("gas.heat_demand_kwh_per_m3", "9", "kWh/m³", GAS_9, True),
    ("gas.cooking_m3", "37", "m³", HOOM, False),
    ("gas.hot_water_m3_per_occupant", "90", "m³", TEAM, False),
    ("gas.default_occupants", "2.2", "", TEAM, False),
    ("calibration.min", "0.5", "", TEAM, False),
    ("calibration.max", "1.5", "", TEAM, False),
    ("ventilation.loss_w_per_k_per_m2", "0.7", "W/K·m²", "0,34 × 0,8 luchtwisselingen per uur × 2,6 m hoogte", False),
    ("efficiency.hr_boiler", "0.97", "", HOOM_BOILER, True),
    ("efficiency.vr_boiler", "0.86", "", HOOM_BOILER, True),
    ("efficiency.conventional_boiler", "0.70", "", HOOM_BOILER, True),
    ("efficiency.stove", "0.70", "", TEAM, False),
    ("efficiency.heat_pump_scop", "3.0", "", TEAM, False),
    ("efficiency.hybrid_heat_pump_scop", "3.5", "", TEAM, False),
    ("default_state.partial_from_year", "1975", "year", "Vuistregel bouwjaar Milieu Centraal", False),
    ("default_state.good_from_year", "1992", "year", "Vuistregel bouwjaar Milieu Centraal", False),
    ("default_state.glazing_good_from_year", "2000", "year", TEAM, False),
    ("default_state.cavity_wall_from_year", "1920", "year", TEAM, False),
    ("nip.amount_eur", "1460", "€", NIP, True),
    # The reference homes: walls from Milieu Centraal, the corner house's roof, floor and
    # glass from seed 004's ISDE amounts divided by the 2024 rates.
    ("geometry.terraced.floor_area_m2", "120", "m²", MC_HOME, False),
    ("geometry.terraced.floor_m2", "50", "m²", SEED, True),
    ("geometry.terraced.roof_m2", "56.7", "m²", SEED, True),
    ("geometry.terraced.wall_m2", "39", "m²", MC_CAVITY, True),
    ("geometry.terraced.glazing_m2", "21.7", "m²", SEED, True),
    ("geometry.terraced.doors_panels_m2", "4", "m²", TEAM, False),
    ("geometry.corner.floor_area_m2", "120", "m²", MC_HOME, False),
    ("geometry.corner.floor_m2", "50", "m²", SEED, True),
    ("geometry.corner.roof_m2", "56.7", "m²", SEED, True),
    ("geometry.corner.wall_m2", "88", "m²", MC_CAVITY, True),
    ("geometry.corner.glazing_m2", "21.7", "m²", SEED, True),
    ("geometry.corner.doors_panels_m2", "4", "m²", TEAM, False),
    ("geometry.semi_detached.floor_area_m2", "150", "m²", TEAM, False),
    ("geometry.semi_detached.floor_m2", "65", "m²", TEAM, False),
    ("geometry.semi_detached.roof_m2", "74", "m²", TEAM, False),
    ("geometry.semi_detached.wall_m2", "90", "m²", MC_CAVITY, True),
    ("geometry.semi_detached.glazing_m2", "26", "m²", TEAM, False),
    ("geometry.semi_detached.doors_panels_m2", "5", "m²", TEAM, False),
    ("geometry.detached.floor_area_m2", "180", "m²", TEAM, False),
    ("geometry.detached.floor_m2", "85", "m²", TEAM, False),
    ("geometry.detached.roof_m2", "96", "m²", TEAM, False),
    ("geometry.detached.wall_m2", "129", "m²", MC_CAVITY, True),
    ("geometry.detached.glazing_m2", "32", "m²", TEAM, False),
    ("geometry.detached.doors_panels_m2", "6", "m²", TEAM, False),
    ("geometry.apartment.floor_area_m2", "80", "m²", TEAM, False),
    ("geometry.apartment.floor_m2", "80", "m²", TEAM, False),
    ("geometry.apartment.roof_m2", "80", "m²", TEAM, False),
    ("geometry.apartment.wall_m2", "25", "m²", TEAM, False),
    ("geometry.apartment.glazing_m2", "14", "m²", TEAM, False),
    ("geometry.apartment.doors_panels_m2", "2", "m²", TEAM, False),
    # Temperature factor b: 1 for outside air; less next to a crawl space, a moderately
    # heated attic, or bedrooms kept cooler than the living room.
    ("b.roof", "0.8", "", U_CALIBRATED, False),
    ("b.facade", "1.0", "", U_PHYSICS, True),
    ("b.cavity_wall", "1.0", "", U_PHYSICS, True),
    ("b.floor", "0.7", "", U_CALIBRATED, False),
    ("b.glazing_living", "0.6", "", U_CALIBRATED, False),
    ("b.glazing_bedrooms", "0.35", "", U_CALIBRATED, False),
    ("b.doors_panels", "1.0", "", U_PHYSICS, True),
    # U-values (W/m²K) of each part as it is now: not, partly or well insulated. For
    # glass: single, double, HR++ or better.
    ("u.roof.none", "2.5", "W/m²K", U_PHYSICS, False),
    ("u.roof.partial", "0.9", "W/m²K", U_PHYSICS, False),
    ("u.roof.good", "0.3", "W/m²K", U_PHYSICS, False),
    ("u.facade.none", "1.7", "W/m²K", U_PHYSICS, False),
    ("u.facade.partial", "0.8", "W/m²K", U_PHYSICS, False),
    ("u.facade.good", "0.3", "W/m²K", U_PHYSICS, False),
    ("u.cavity_wall.none", "1.7", "W/m²K", U_PHYSICS, False),
    ("u.cavity_wall.partial", "0.9", "W/m²K", U_PHYSICS, False),
    ("u.cavity_wall.good", "0.59", "W/m²K", U_PHYSICS, False),
    ("u.floor.none", "1.2", "W/m²K", U_PHYSICS, False),
    ("u.floor.partial", "0.6", "W/m²K", U_PHYSICS, False),
    ("u.floor.good", "0.26", "W/m²K", U_PHYSICS, False),
    ("u.glazing_living.none", "5.8", "W/m²K", U_PHYSICS, True),
    ("u.glazing_living.partial", "2.8", "W/m²K", U_PHYSICS, True),
    ("u.glazing_living.good", "1.2", "W/m²K", U_PHYSICS, True),
    ("u.glazing_bedrooms.none", "5.8", "W/m²K", U_PHYSICS, True),
    ("u.glazing_bedrooms.partial", "2.8", "W/m²K", U_PHYSICS, True),
    ("u.glazing_bedrooms.good", "1.2", "W/m²K", U_PHYSICS, True),
    ("u.doors_panels.none", "3.4", "W/m²K", U_PHYSICS, False),
    ("u.doors_panels.partial", "2.5", "W/m²K", U_PHYSICS, False),
    ("u.doors_panels.good", "1.4", "W/m²K", U_PHYSICS, False),
    ("max_share.roof", "0.30", "", HOOM_SHARE, False),
    ("max_share.wall", "0.35", "", HOOM_SHARE, False),
    ("max_share.floor", "0.15", "", HOOM_SHARE, False),
    ("max_share.glazing", "0.25", "", HOOM_SHARE, False),
    ("max_share.doors_panels", "0.05", "", TEAM, False),
    # Insulation measures: U after, price per m² (seed 004's costs over its areas where
    # the seed has them), ISDE per m² (2024, single measure) and its area limits.
    ("measure.roof_insulation.u_after", "0.26", "W/m²K", U_PHYSICS, True),
    ("measure.roof_insulation.cost_eur_per_m2", "95.24", "€/m²", SEED, True),
    ("measure.roof_insulation.isde_eur_per_m2", "15.00", "€/m²", ISDE_2024, True),
    ("measure.roof_insulation.isde_min_m2", "20", "m²", ISDE_MIN, True),
    ("measure.roof_insulation.isde_max_m2", "200", "m²", ISDE_MIN, False),
    ("measure.attic_floor_insulation.u_after", "0.26", "W/m²K", U_PHYSICS, True),
    ("measure.attic_floor_insulation.cost_eur_per_m2", "30.00", "€/m²", TEAM, False),
    ("measure.attic_floor_insulation.isde_eur_per_m2", "4.00", "€/m²", ISDE_2024, False),
    ("measure.attic_floor_insulation.isde_min_m2", "20", "m²", ISDE_MIN, True),
    ("measure.attic_floor_insulation.isde_max_m2", "130", "m²", ISDE_MIN, False),
    ("measure.facade_insulation.u_after", "0.26", "W/m²K", U_PHYSICS, True),
    ("measure.facade_insulation.cost_eur_per_m2", "150.00", "€/m²", TEAM, False),
    ("measure.facade_insulation.isde_eur_per_m2", "19.00", "€/m²", ISDE_2024, False),
    ("measure.facade_insulation.isde_min_m2", "10", "m²", ISDE_MIN, True),
    ("measure.facade_insulation.isde_max_m2", "170", "m²", ISDE_MIN, False),
    ("measure.cavity_wall_insulation.u_after", "0.59", "W/m²K", U_PHYSICS, True),
    ("measure.cavity_wall_insulation.cost_eur_per_m2", "26.70", "€/m²", SEED, True),
    ("measure.cavity_wall_insulation.isde_eur_per_m2", "4.00", "€/m²", ISDE_2024, True),
    ("measure.cavity_wall_insulation.isde_min_m2", "10", "m²", ISDE_MIN, True),
    ("measure.cavity_wall_insulation.isde_max_m2", "170", "m²", ISDE_MIN, False),
    ("measure.floor_insulation.u_after", "0.26", "W/m²K", U_PHYSICS, True),
    ("measure.floor_insulation.cost_eur_per_m2", "47.00", "€/m²", SEED, True),
    ("measure.floor_insulation.isde_eur_per_m2", "5.50", "€/m²", ISDE_2024, True),
    ("measure.floor_insulation.isde_min_m2", "20", "m²", ISDE_MIN, True),
    ("measure.floor_insulation.isde_max_m2", "130", "m²", ISDE_MIN, False),
    ("measure.soil_insulation.u_after", "0.40", "W/m²K", TEAM, False),
    ("measure.soil_insulation.cost_eur_per_m2", "30.00", "€/m²", TEAM, False),
    ("measure.soil_insulation.isde_eur_per_m2", "3.00", "€/m²", ISDE_2024, False),
    ("measure.soil_insulation.isde_min_m2", "20", "m²", ISDE_MIN, True),
    ("measure.soil_insulation.isde_max_m2", "130", "m²", ISDE_MIN, False),
    ("measure.hr_glass.u_after", "1.2", "W/m²K", "ISDE-eis Ug ≤ 1,2", True),
    ("measure.hr_glass.cost_eur_per_m2", "179.72", "€/m²", SEED, True),
    ("measure.hr_glass.isde_eur_per_m2", "23.00", "€/m²", ISDE_2024, True),
    ("measure.hr_glass.isde_min_m2", "8", "m²", ISDE_MIN, False),
    ("measure.hr_glass.isde_max_m2", "45", "m²", ISDE_MIN, False),
    ("measure.triple_glass.u_after", "0.7", "W/m²K", "ISDE-eis Ug ≤ 0,7", True),
    ("measure.triple_glass.cost_eur_per_m2", "450.00", "€/m²", TEAM, False),
    ("measure.triple_glass.isde_eur_per_m2", "65.50", "€/m²", ISDE_2024, False),
    ("measure.triple_glass.isde_min_m2", "8", "m²", ISDE_MIN, False),
    ("measure.triple_glass.isde_max_m2", "45", "m²", ISDE_MIN, False),
    ("measure.insulating_panels.u_after", "1.2", "W/m²K", "ISDE-eis Up ≤ 1,2", True),
    ("measure.insulating_panels.cost_eur_per_m2", "150.00", "€/m²", TEAM, False),
    ("measure.insulating_panels.isde_eur_per_m2", "10.00", "€/m²", ISDE_2024, False),
    ("measure.insulating_panels.isde_min_m2", "8", "m²", ISDE_MIN, False),
    ("measure.insulating_panels.isde_max_m2", "45", "m²", ISDE_MIN, False),
    ("measure.insulating_doors.u_after", "1.5", "W/m²K", "ISDE-eis Ud ≤ 1,5", True),
    ("measure.insulating_doors.cost_eur_per_m2", "700.00", "€/m²", TEAM, False),
    ("measure.insulating_doors.isde_eur_per_m2", "23.00", "€/m²", ISDE_2024, False),
    ("measure.insulating_doors.isde_min_m2", "8", "m²", ISDE_MIN, False),
    ("measure.insulating_doors.isde_max_m2", "45", "m²", ISDE_MIN, False),
    ("measure.draught_proofing.share_of_heating", "0.05", "", HOOM, False),
    ("measure.draught_proofing.cost_eur", "150", "€", TEAM, False),
    ("measure.hybrid_heat_pump.share_of_heating", "0.6", "", TEAM, False),
    ("measure.hybrid_heat_pump.cost_eur", "5000", "€", TEAM, False),
    ("measure.hybrid_heat_pump.isde_eur", "2000", "€", TEAM, False),
    ("measure.heat_pump.cost_eur", "12000", "€", TEAM, False),
    ("measure.heat_pump.isde_eur", "3000", "€", TEAM, False),
    ("measure.solar_panels.panel_wp", "400", "Wp", TEAM, False),
    ("measure.solar_panels.default_count", "10", "", TEAM, False),
    ("measure.solar_panels.kwh_per_wp", "0.85", "kWh/Wp", TEAM, False),
    ("measure.solar_panels.cost_eur_per_wp", "1.10", "€/Wp", TEAM, False),
    ("measure.solar_boiler.share_of_hot_water", "0.5", "", TEAM, False),
    ("measure.solar_boiler.cost_eur", "3500", "€", TEAM, False),
    ("measure.solar_boiler.isde_eur", "1000", "€", TEAM, False),
    # The insulation standard's heat demand limits (kWh/m²): base + slope × (Als/Ag − 1).
    # The figures for apartments built after 1945 were not found: left out on purpose.
    ("standard.single.pre1945.base", "60", "kWh/m²", STANDARD, False),
    ("standard.single.pre1945.slope", "105", "kWh/m²", STANDARD, False),
    ("standard.single.post1945.base", "43", "kWh/m²", STANDARD, False),
    ("standard.single.post1945.slope", "40", "kWh/m²", STANDARD, False),
    ("standard.multi.pre1945.base", "95", "kWh/m²", STANDARD, False),
    ("standard.multi.pre1945.slope", "70", "kWh/m²", STANDARD, False),
    # The indicative label's class by build period (1 = A … 7 = G).
    ("label.base.before_1946", "7", "", TEAM, False),
    ("label.base.from_1946", "6", "", TEAM, False),
    ("label.base.from_1965", "5", "", TEAM, False),
    ("label.base.from_1975", "4", "", TEAM, False),
    ("label.base.from_1992", "3", "", TEAM, False),
    ("label.base.from_2006", "2", "", TEAM, False),
    ("label.base.from_2015", "1", "", TEAM, False),
]


def seed(apps, schema_editor):
    ParameterSet = apps.get_model("dossier", "ParameterSet")
    ParameterValue = apps.get_model("dossier", "ParameterValue")
    parameter_set, _ = ParameterSet.objects.get_or_create(
        version="2024-1",
        defaults={
            "valid_from": date(2024, 1, 1),
            "description": "Eerste set: seed 004, Milieu Centraal, ISDE 2024, Hoomdossier.",
        },
    )
    for key, value, unit, source, verified in PARAMETERS:
        ParameterValue.objects.update_or_create(
            parameter_set=parameter_set,
            key=key,
            defaults={"value": Decimal(value), "unit": unit, "source": source, "verified": verified},
        )


def unseed(apps, schema_editor):
    apps.get_model("dossier", "ParameterSet").objects.filter(version="2024-1").delete()


class Migration(migrations.Migration):
    dependencies = [("dossier", "0004_add_calculation_parameters")]

    operations = [migrations.RunPython(seed, unseed)]
