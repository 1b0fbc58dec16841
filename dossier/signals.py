"""What the dossier tells the apps above it, which it may not import (DESIGN: accounts ←
dossier ← crm). Receivers run inside the sender's transaction: what they write is kept
or undone with the dossier's own change.
"""

from __future__ import annotations

from django.dispatch import Signal

# The resident (or the coach with them) said the dossier is ready: dossier=, actor=.
dossier_submitted = Signal()

# An advice report reached the residents: report=, how ("email" or "print"), actor= (None
# when a worker sent it).
advice_report_delivered = Signal()

# A dossier is about to be made for a household in this dwelling: dwelling=. The data
# platform fills what the open-data files know of the address (build year, area, label)
# onto the dwelling first, so the new dossier starts from it.
dwelling_prefill = Signal()
