from __future__ import annotations

from dataplatform.management.commands._import import ImportCommand
from dataplatform.models import OpenDataKind


class Command(ImportCommand):
    help = "Import CBS's neighbourhood, district and municipality per postcode and house number."
    kind = OpenDataKind.CBS_AREAS
    file_help = "CBS's pc6hnr…_gwb.csv file"
