from __future__ import annotations

from dataplatform.management.commands._import import ImportCommand
from dataplatform.models import OpenDataKind


class Command(ImportCommand):
    help = "Import EP-Online's open data file of registered energy labels (CSV)."
    kind = OpenDataKind.EP_ONLINE
    file_help = "EP-Online's CSV file (with or without its PublicatieDatum line)"
