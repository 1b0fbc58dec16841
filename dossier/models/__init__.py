"""The dossier's models, split by sub-domain; import them from here."""

from auditlog.registry import auditlog

from dossier.models.address import Dwelling, DwellingType, Household, Occupancy
from dossier.models.calculation import ParameterSet, ParameterValue
from dossier.models.exchange import Document, Message, MessageRead, Photo
from dossier.models.house import (
    YEAR_VALIDATORS,
    ApartmentType,
    BuildingComponent,
    ComponentKind,
    Dossier,
    DossierSection,
    EnergyLabel,
    Insulation,
    LabelKind,
    Section,
    Source,
    ValueRecord,
    YesNoUnknown,
)
from dossier.models.measure import DoneBy, DossierMeasure, MeasureStatus, MeasureType
from dossier.models.report import AdviceReport, Delivery, ReportStatus

__all__ = [
    "YEAR_VALIDATORS",
    "AdviceReport",
    "ApartmentType",
    "BuildingComponent",
    "ComponentKind",
    "Delivery",
    "Document",
    "DoneBy",
    "Dossier",
    "DossierMeasure",
    "DossierSection",
    "Dwelling",
    "DwellingType",
    "EnergyLabel",
    "Household",
    "Insulation",
    "LabelKind",
    "MeasureStatus",
    "MeasureType",
    "Message",
    "MessageRead",
    "Occupancy",
    "ParameterSet",
    "ParameterValue",
    "Photo",
    "ReportStatus",
    "Section",
    "Source",
    "ValueRecord",
    "YesNoUnknown",
]

# Every change to a dossier is in the audit log (who, what, when). Personal values are
# masked there (privacy/audit.py): the log shows that a note changed, not what it says.
auditlog.register(Dwelling)
auditlog.register(Household, mask_fields=["name"], m2m_fields={"residents"})
auditlog.register(Message)
auditlog.register(Dossier, mask_fields=["wishes"])
auditlog.register(BuildingComponent)
auditlog.register(DossierSection, mask_fields=["notes"])
auditlog.register(DossierMeasure, mask_fields=["advice_note", "quote_company"])
auditlog.register(Document, mask_fields=["title"])
auditlog.register(Photo, mask_fields=["caption"])
auditlog.register(AdviceReport, mask_fields=["summary"], exclude_fields=["figures"])
