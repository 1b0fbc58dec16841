"""Cheaper keys for the open-data reference tables.

RegisteredLabel is keyed by its address (postcode, house number, suffix) instead of a
surrogate id, and loses its two bag_id indexes: the EP-Online import writes every row
of a file of millions, and each index costs as much as the row itself. Django cannot turn
an existing table's key into a composite one, so the table is made anew; it only holds
what the next EP-Online import (`manage.py import_ep_online`) fills in again.

BagAddress's bag_id is unique through a constraint instead of unique=True, which on
PostgreSQL also made an unused varchar_pattern_ops (LIKE) index.
"""

from django.db import migrations, models

LABELS = ("A++++", "A+++", "A++", "A+", "A", "B", "C", "D", "E", "F", "G")


class Migration(migrations.Migration):
    dependencies = [
        ("dataplatform", "0002_seed_consent_texts"),
    ]

    operations = [
        migrations.DeleteModel(name="RegisteredLabel"),
        migrations.CreateModel(
            name="RegisteredLabel",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "postcode",
                        "house_number",
                        "suffix",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("postcode", models.CharField(max_length=6, verbose_name="postcode")),
                ("house_number", models.PositiveIntegerField(verbose_name="house number")),
                (
                    "suffix",
                    models.CharField(blank=True, max_length=8, verbose_name="letter and addition"),
                ),
                (
                    "bag_id",
                    models.CharField(blank=True, max_length=16, verbose_name="BAG object id"),
                ),
                (
                    "label",
                    models.CharField(
                        choices=[(label, label) for label in LABELS],
                        max_length=5,
                        verbose_name="energy label",
                    ),
                ),
                ("recorded_on", models.DateField(verbose_name="recording date")),
                (
                    "registered_on",
                    models.DateField(blank=True, null=True, verbose_name="registration date"),
                ),
                (
                    "valid_until",
                    models.DateField(blank=True, null=True, verbose_name="valid until"),
                ),
                (
                    "building_type",
                    models.CharField(
                        blank=True, max_length=60, verbose_name="building type (EP-Online)"
                    ),
                ),
                (
                    "building_subtype",
                    models.CharField(blank=True, max_length=60, verbose_name="building subtype"),
                ),
                (
                    "floor_area_m2",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        max_digits=9,
                        null=True,
                        verbose_name="usable area (m²)",
                    ),
                ),
                ("file_date", models.DateField(verbose_name="date of the file")),
            ],
            options={
                "verbose_name": "registered energy label",
                "verbose_name_plural": "registered energy labels",
            },
        ),
        migrations.AlterField(
            model_name="bagaddress",
            name="bag_id",
            field=models.CharField(max_length=16, verbose_name="BAG object id"),
        ),
        migrations.AddConstraint(
            model_name="bagaddress",
            constraint=models.UniqueConstraint(fields=("bag_id",), name="bag_address_bag_id"),
        ),
    ]
