"""Import the national open-data files: EP-Online's labels, BAG light, CBS areas per address.

`files` reads each file as a stream of checked rows (bad rows reported with their line
number and skipped); `loading` stages them and merges them into the reference tables.
The management commands import_ep_online, import_bag and import_cbs_areas call
`opendata_import`; dataplatform.prefill reads the tables.
"""

from __future__ import annotations

from dataplatform.opendata.files import ImportReport, OpenDataFileError, open_source
from dataplatform.opendata.loading import opendata_import

__all__ = ["ImportReport", "OpenDataFileError", "open_source", "opendata_import"]
