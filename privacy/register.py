"""The classification of every stored field: the source of the processing register (art. 30).

Each model of the product and of the libraries it installs has one `Entry`: the
processing activity it serves, how long it is kept (a retention category), and per field
one data class. `tests/privacy/test_register.py` fails on a field that is not here and on
an entry that names a field that no longer exists, so a new field cannot reach the
database unclassified. The resident's export, erasure and the retention job read this
table to know what is personal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _


class DataClass(models.TextChoices):
    PERSONAL = "personal", _("personal data")
    # AVG art. 9, and what shows a household's financial position (income, debts).
    SPECIAL = "special", _("special or sensitive personal data")
    HOUSE = "house", _("house characteristic")
    OPERATIONAL = "operational", _("operational")


class Retention(models.TextChoices):
    # The four an initiative sets itself.
    INACTIVE_DOSSIERS = "inactive_dossiers", _("inactive dossiers")
    PHOTOS = "photos", _("photos")
    EXPORTS = "exports", _("exports")
    AUDIT = "audit", _("audit entries")
    # Fixed by the product or by law.
    ACCOUNT = "account", _("as long as the account exists")
    SESSIONS = "sessions", _("until the session ends")
    CONSENT = "consent", _("proof of consent: as long as the data it covers")
    LEGAL = "legal", _("legal duty of the municipality (grant records)")
    REFERENCE = "reference", _("public open data, replaced by each import")
    CONFIGURATION = "configuration", _("as long as it is in use")


class Activity(models.TextChoices):
    ACCOUNTS = "accounts", _("Logging in and access")
    COACHING = "coaching", _("Energy coaching: house dossier, visit and advice")
    FOLLOW_UP = "follow_up", _("Following up residents (sign-up, cases, visits)")
    GRANTS = "grants", _("Insulation grants (NIP) of the municipality")
    SHARING = "sharing", _("Sharing figures with municipality and province")
    REFERENCE = "reference", _("Public reference data (BAG, EP-Online, CBS)")
    SECURITY = "security", _("Security and accountability (audit log, sessions)")
    CONFIGURATION = "configuration", _("Running the application")


@dataclass(frozen=True)
class Entry:
    """One model: its activity, its retention, and its fields by data class.

    Field names are separated by spaces.
    """

    activity: Activity
    retention: Retention
    personal: str = ""
    special: str = ""
    house: str = ""
    operational: str = ""

    def classes(self) -> dict[str, DataClass]:
        found: dict[str, DataClass] = {}
        for data_class, names in (
            (DataClass.PERSONAL, self.personal),
            (DataClass.SPECIAL, self.special),
            (DataClass.HOUSE, self.house),
            (DataClass.OPERATIONAL, self.operational),
        ):
            for name in names.split():
                if name in found:
                    raise ValueError(f"{name} is classified twice")
                found[name] = data_class
        return found


A = Activity
R = Retention

REGISTER: dict[str, Entry] = {
    # Django and the libraries it installs
    "admin.LogEntry": Entry(
        A.SECURITY,
        R.AUDIT,
        personal="user object_repr change_message",
        operational="action_time content_type object_id action_flag",
    ),
    "auth.Permission": Entry(
        A.CONFIGURATION, R.CONFIGURATION, operational="name content_type codename"
    ),
    "auth.Group": Entry(A.CONFIGURATION, R.CONFIGURATION, operational="name permissions"),
    "contenttypes.ContentType": Entry(
        A.CONFIGURATION, R.CONFIGURATION, operational="app_label model"
    ),
    "sessions.Session": Entry(
        A.ACCOUNTS, R.SESSIONS, personal="session_data", operational="session_key expire_date"
    ),
    "auditlog.LogEntry": Entry(
        A.SECURITY,
        R.AUDIT,
        personal=(
            "object_repr serialized_data changes_text changes actor remote_addr remote_port "
            "additional_data actor_email"
        ),
        operational="content_type object_pk object_id action cid timestamp",
    ),
    "account.EmailAddress": Entry(
        A.ACCOUNTS, R.ACCOUNT, personal="user email", operational="verified primary"
    ),
    "account.EmailConfirmation": Entry(
        A.ACCOUNTS, R.ACCOUNT, personal="email_address", operational="created sent key"
    ),
    "mfa.Authenticator": Entry(
        A.ACCOUNTS, R.ACCOUNT, personal="user data", operational="type created_at last_used_at"
    ),
    "usersessions.UserSession": Entry(
        A.ACCOUNTS,
        R.SESSIONS,
        personal="user ip user_agent data",
        operational="created_at last_seen_at session_key",
    ),
    # accounts
    "accounts.User": Entry(
        A.ACCOUNTS,
        R.ACCOUNT,
        personal="first_name last_name email phone last_login date_joined",
        operational=("password is_superuser is_staff is_active groups user_permissions"),
    ),
    "accounts.Municipality": Entry(A.CONFIGURATION, R.CONFIGURATION, operational="code name"),
    "accounts.Organisation": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        operational="kind name slug logo colour is_active created_at municipalities",
    ),
    "accounts.Membership": Entry(
        A.ACCOUNTS, R.ACCOUNT, personal="user", operational="organisation role is_active created_at"
    ),
    "accounts.ApiToken": Entry(
        A.ACCOUNTS,
        R.CONFIGURATION,
        personal="created_by",
        operational=(
            "organisation name prefix key_hash created_at last_used_at expires_at revoked_at"
        ),
    ),
    # dossier
    "dossier.Dwelling": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        personal="postcode house_number house_letter house_number_addition street city bag_id",
        house=(
            "municipality_code dwelling_type build_year floor_area_m2 registered_label "
            "registered_label_on neighbourhood_code district_code"
        ),
        operational="open_data open_data_checked_at created_at",
    ),
    "dossier.Household": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        personal="name assigned_coach residents",
        # Workflow state, like a case's status: erasure keeps it, so an erased household
        # that moved out stays ended and the one living there stays the only one.
        operational="initiative dwelling occupancy ended_at created_at",
    ),
    "dossier.ParameterSet": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        operational="version valid_from description locked created_at",
    ),
    "dossier.ParameterValue": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        operational="parameter_set key value unit source verified",
    ),
    "dossier.Dossier": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        personal=(
            "household ownership occupants gas_m3_per_year electricity_kwh_per_year "
            "electricity_returned_kwh_per_year thermostat_c cooking complaint_draught "
            "complaint_cold_floors complaint_damp plans_renovation plans_moving main_priority "
            "wishes invited_at submitted_at"
        ),
        house=(
            "dwelling_type apartment_type build_year floor_area_m2 storeys roof_type "
            "orientation is_monument energy_label_kind energy_label energy_label_date "
            "heating_system boiler_year hot_water ventilation has_solar_panels "
            "solar_panel_count solar_panel_wp solar_panel_year"
        ),
        operational="created_at",
    ),
    "dossier.BuildingComponent": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        house="kind insulation rc_value u_value area_m2 year",
        operational="dossier",
    ),
    "dossier.DossierSection": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        personal="notes updated_by",
        operational="dossier section version checked_in_home updated_at",
    ),
    "dossier.ValueRecord": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        personal="value recorded_by source_detail",
        operational="dossier field source recorded_at checked_in_home",
    ),
    "dossier.MeasureType": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        operational=(
            "code name description category component isde_eligible nip_eligible sort_order "
            "is_active"
        ),
    ),
    "dossier.DossierMeasure": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        personal="advice_note quote_amount_eur quote_company quote_date",
        house="measure_type status done_year done_by advice_priority",
        operational="dossier updated_at",
    ),
    "dossier.Message": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        personal="author body",
        operational="dossier visibility created_at",
    ),
    "dossier.MessageRead": Entry(
        A.COACHING, R.INACTIVE_DOSSIERS, personal="user", operational="message read_at"
    ),
    "dossier.Document": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        personal="title file uploaded_by",
        operational="dossier kind content_type extension size visibility measure created_at",
    ),
    "dossier.Photo": Entry(
        A.COACHING,
        R.PHOTOS,
        personal="image thumbnail caption taken_by",
        operational="dossier width height component measure visibility created_at",
    ),
    "dossier.AdviceReport": Entry(
        A.COACHING,
        R.INACTIVE_DOSSIERS,
        personal="figures summary pdf delivery sent_at printed_at created_by",
        operational=(
            "dossier number parameter_set status error attempts pages created_at started_at "
            "finished_at lease_until"
        ),
    ),
    # crm
    "crm.Case": Entry(
        A.FOLLOW_UP,
        R.INACTIVE_DOSSIERS,
        personal=(
            "household wants_help_with heard_via is_member contact_email contact_phone "
            "privacy_accepted_at"
        ),
        operational=("initiative status privacy_statement_version created_at updated_at closed_at"),
    ),
    "crm.CaseEvent": Entry(
        A.FOLLOW_UP,
        R.INACTIVE_DOSSIERS,
        personal="actor coach previous_coach text",
        operational="case kind from_status to_status action visit task created_at",
    ),
    "crm.CoachProfile": Entry(
        A.FOLLOW_UP,
        R.ACCOUNT,
        personal="user areas max_visits_per_week",
        operational="organisation is_active",
    ),
    "crm.Visit": Entry(
        A.FOLLOW_UP,
        R.INACTIVE_DOSSIERS,
        personal="coach planned_start",
        operational="case duration_minutes status created_at",
    ),
    "crm.Task": Entry(
        A.FOLLOW_UP,
        R.INACTIVE_DOSSIERS,
        personal="assignee title",
        operational="case kind due_date done_at dedupe_key created_at",
    ),
    "crm.SignupSettings": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        operational="initiative is_open asks_membership intro embedding_sites",
    ),
    "crm.PrivacyStatement": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        operational="initiative version text valid_from created_at",
    ),
    # nip
    "nip.ParameterSet": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        operational="version valid_from description locked created_at",
    ),
    "nip.ParameterValue": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        operational="parameter_set key value unit source verified",
    ),
    "nip.Programme": Entry(
        A.GRANTS,
        R.CONFIGURATION,
        operational=(
            "municipality name tranche period_start period_end measures_from spend_deadline "
            "target_homes woz_limit municipal_average_woz_eur amount_per_home_eur "
            "reporting_period created_at"
        ),
    ),
    "nip.BudgetLine": Entry(
        A.GRANTS, R.CONFIGURATION, operational="programme source description amount_eur"
    ),
    "nip.BusinessCase": Entry(
        A.GRANTS, R.CONFIGURATION, operational="programme title note sort_order"
    ),
    "nip.BusinessCaseLine": Entry(
        A.GRANTS,
        R.CONFIGURATION,
        operational=(
            "business_case label homes amount_per_home_eur source option_group option_label "
            "sort_order"
        ),
    ),
    "nip.Application": Entry(
        A.GRANTS,
        R.LEGAL,
        personal=(
            "dwelling household intake_by owner_occupied woz_below_limit decided_by "
            "decision_note species_document"
        ),
        # The income and debt answers, and what is derived from them: the group (the focus
        # group is the income answer), the stored check (its reasons repeat the answers),
        # and the amount granted (full unburdening for the focus group, no maximum under
        # debt counselling).
        special="income_below_threshold debt_relief group eligibility amount_granted_eur",
        house=(
            "energy_label build_year dwelling_type shell_floor shell_facade shell_roof "
            "shell_windows species_check"
        ),
        operational=(
            "programme status intake_channel intake_at parameter_set decided_at version updated_at"
        ),
    ),
    "nip.Commitment": Entry(
        A.GRANTS,
        R.LEGAL,
        # The amount granted, split by source: derived from the group as that amount is.
        special="amount_eur spent_eur",
        operational="application source created_at",
    ),
    "nip.ExecutedMeasure": Entry(
        A.GRANTS,
        R.LEGAL,
        personal="cost_eur invoice created_by",
        house=(
            "measure_type area_m2 rd_value u_value frame_u_value executed_on done_by "
            "small_home_exception"
        ),
        operational="application created_at",
    ),
    "nip.MonitoringExport": Entry(
        A.GRANTS,
        R.EXPORTS,
        # Its rows hold each application's debt answer and amount granted (nip.monitoring).
        special="file",
        personal="requested_by",
        operational=(
            "id programme period_start period_end format status rows_total rows_done "
            "attempts created_at finished_at expires_at lease_until"
        ),
    ),
    # dataplatform
    "dataplatform.ConsentText": Entry(
        A.SHARING,
        R.CONFIGURATION,
        operational="purpose version title text text_hash valid_from created_at",
    ),
    "dataplatform.ConsentRecord": Entry(
        A.SHARING,
        R.CONSENT,
        personal="household recorded_by withdrawn_by",
        operational="purpose text given_at channel withdrawn_at withdrawal_channel",
    ),
    "dataplatform.SharingAgreement": Entry(
        A.SHARING,
        R.CONFIGURATION,
        personal="created_by",
        operational=(
            "initiative recipient level valid_from valid_until reference document created_at "
            "ended_at"
        ),
    ),
    "dataplatform.OpenDataImport": Entry(
        A.REFERENCE,
        R.CONFIGURATION,
        operational=(
            "kind file_name file_date status started_at finished_at rows_read rows_written "
            "rows_skipped problems"
        ),
    ),
    "dataplatform.RegisteredLabel": Entry(
        A.REFERENCE,
        R.REFERENCE,
        house=(
            "postcode house_number suffix bag_id label recorded_on registered_on valid_until "
            "building_type building_subtype floor_area_m2"
        ),
        operational="file_date",
    ),
    "dataplatform.BagAddress": Entry(
        A.REFERENCE,
        R.REFERENCE,
        house=(
            "bag_id postcode house_number house_letter addition street city build_year "
            "floor_area_m2 uses status building_id"
        ),
        operational="file_date",
    ),
    "dataplatform.AddressArea": Entry(
        A.REFERENCE,
        R.REFERENCE,
        house="postcode house_number neighbourhood_code district_code municipality_code",
        operational="file_date",
    ),
    "dataplatform.SharedHousehold": Entry(
        A.SHARING,
        R.CONSENT,
        personal="household",
        house=(
            "municipality_code postcode neighbourhood_code district_code energy_label "
            "dwelling_type build_year measures_done measures_wanted"
        ),
        operational="initiative",
    ),
    "dataplatform.Publication": Entry(
        A.SHARING,
        R.CONFIGURATION,
        operational="id recipient created_at rules_version k households sources",
    ),
    "dataplatform.PublicationCell": Entry(
        A.SHARING,
        R.CONFIGURATION,
        operational="publication level area_code municipality_code measure count suppressed",
    ),
    "dataplatform.PublicationDelivery": Entry(
        A.SHARING,
        R.CONFIGURATION,
        operational=(
            "publication idempotency_key status attempts next_attempt_at last_attempt_at "
            "last_status_code last_error delivered_at"
        ),
    ),
    # privacy/
    "privacy.RetentionSetting": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        personal="updated_by",
        operational="organisation category days updated_at",
    ),
    "privacy.Removal": Entry(
        A.SECURITY,
        R.AUDIT,
        personal="performed_by",
        operational="reason rule organisation household_id performed_at details",
    ),
    # outbox: tasks waiting for the broker, by id only; sent rows are deleted after a week.
    "outbox.QueuedTask": Entry(
        A.CONFIGURATION,
        R.CONFIGURATION,
        operational="task args kwargs created_at sent_at attempts last_error",
    ),
}


def stored_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields a model stores itself: columns and many-to-many tables, not reverse ones."""
    return [
        field
        for field in model._meta.get_fields()
        if (field.concrete or field.many_to_many) and not field.auto_created
    ]


@dataclass(frozen=True)
class Row:
    model: str
    model_name: str
    field: str
    field_name: str
    data_class: DataClass
    activity: Activity
    retention: Retention


def register_rows() -> Iterator[Row]:
    """One row per stored field of every installed model, in the register's order.

    Raises LookupError for a model or field the register does not classify.
    """
    for model in apps.get_models():
        label = model._meta.label
        entry = REGISTER.get(label)
        if entry is None:
            raise LookupError(f"{label} is not in privacy.register.REGISTER")
        classes = entry.classes()
        for field in stored_fields(model):
            if field.name not in classes:
                raise LookupError(f"{label}.{field.name} is not classified")
            yield Row(
                model=label,
                model_name=str(model._meta.verbose_name),
                field=field.name,
                field_name=str(getattr(field, "verbose_name", field.name)),
                data_class=classes[field.name],
                activity=entry.activity,
                retention=entry.retention,
            )
