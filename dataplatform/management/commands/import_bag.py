from __future__ import annotations

from dataplatform.management.commands._import import ImportCommand
from dataplatform.models import OpenDataKind


class Command(ImportCommand):
    help = "Import the addresses of homes from the BAG light GeoPackage (build year, area, use)."
    kind = OpenDataKind.BAG
    file_help = "the BAG light GeoPackage (.gpkg)"
