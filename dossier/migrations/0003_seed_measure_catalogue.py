from django.db import migrations

# (code, name, description, category, component, isde, nip): every ISDE/NIP insulation
# measure, ventilation, heat pumps, solar panels, solar boiler and the small measures.
CATALOGUE = [
    ("roof_insulation", "Dakisolatie", "Het dak aan de binnen- of buitenkant isoleren.", "insulation", "roof", True, True),
    ("attic_floor_insulation", "Zoldervloerisolatie", "De vloer van een koude zolder isoleren.", "insulation", "roof", True, True),
    ("facade_insulation", "Gevelisolatie", "De gevel aan de buiten- of binnenkant isoleren.", "insulation", "facade", True, True),
    ("cavity_wall_insulation", "Spouwmuurisolatie", "De ruimte tussen de twee muren vullen met isolatie.", "insulation", "cavity_wall", True, True),
    ("floor_insulation", "Vloerisolatie", "De onderkant van de begane-grondvloer isoleren.", "insulation", "floor", True, True),
    ("soil_insulation", "Bodemisolatie", "Een isolatielaag op de bodem van de kruipruimte.", "insulation", "floor", True, True),
    ("hr_glass", "HR++-glas", "Enkel of dubbel glas vervangen door HR++-glas.", "glazing", "glazing_living", True, True),
    ("triple_glass", "Triple glas", "Drie lagen glas in een nieuw, goed isolerend kozijn.", "glazing", "glazing_living", True, True),
    ("insulating_panels", "Isolerende panelen", "Panelen in kozijnen vervangen door isolerende panelen.", "glazing", "doors_panels", True, True),
    ("insulating_doors", "Isolerende buitendeuren", "Buitendeuren vervangen door isolerende deuren.", "glazing", "doors_panels", True, True),
    ("balanced_ventilation", "Balansventilatie met warmteterugwinning", "Verse lucht die wordt voorverwarmd door de afgevoerde lucht.", "ventilation", "", False, True),
    ("demand_controlled_ventilation", "Vraaggestuurde ventilatie", "Ventilatie die harder gaat als dat nodig is (CO2-sensor).", "ventilation", "", False, True),
    ("hybrid_heat_pump", "Hybride warmtepomp", "Een warmtepomp naast de cv-ketel; de ketel springt bij als het koud is.", "heating", "", True, False),
    ("heat_pump", "Volledige warmtepomp", "Een warmtepomp die het hele huis verwarmt, zonder gas.", "heating", "", True, False),
    ("solar_panels", "Zonnepanelen", "Zelf stroom opwekken op het dak.", "generation", "", False, False),
    ("solar_boiler", "Zonneboiler", "Water verwarmen met de zon.", "generation", "", True, False),
    ("draught_proofing", "Naden en kieren dichten", "Tochtstrips en kit langs ramen, deuren en naden.", "small", "", False, False),
    ("radiator_foil", "Radiatorfolie", "Folie achter de radiator die warmte terugkaatst.", "small", "", False, False),
    ("radiator_fan", "Radiatorventilator", "Een ventilator onder de radiator die de warmte verspreidt.", "small", "", False, False),
    ("pipe_insulation", "Leidingisolatie", "Cv-leidingen in koude ruimtes isoleren.", "small", "", False, False),
    ("thermostat_settings", "Slimmer stoken", "Thermostaat lager en de cv-ketel goed afstellen (aanvoertemperatuur).", "small", "", False, False),
    ("water_saving_shower", "Waterbesparende douchekop", "Minder warm water, even lekker douchen.", "small", "", False, False),
    ("led_lighting", "Ledverlichting", "Lampen vervangen door ledlampen.", "small", "", False, False),
    ("letterbox_draught", "Brievenbus- en tochtborstels", "Tocht bij brievenbus en deuren tegengaan.", "small", "", False, False),
]


def seed(apps, schema_editor):
    MeasureType = apps.get_model("dossier", "MeasureType")
    for order, (code, name, description, category, component, isde, nip) in enumerate(CATALOGUE):
        MeasureType.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "description": description,
                "category": category,
                "component": component,
                "isde_eligible": isde,
                "nip_eligible": nip,
                "sort_order": (order + 1) * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("dossier", "0002_add_house_dossier")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
