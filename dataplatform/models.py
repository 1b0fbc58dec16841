"""The data platform: consent, sharing agreements, open-data reference tables, publications.

Nothing about a household leaves the installation unless two things hold at once: the
household gave consent for that purpose (ConsentRecord, append-only) and its initiative
has a sharing agreement with the receiving organisation at that level or a finer one
(SharingAgreement). What leaves is a Publication: a snapshot of postcode-6 (and coarser)
cells of house characteristics, small cells suppressed (dataplatform.suppression), sent
to the provincial platform through an outbox (Delivery) written in the same transaction.

The open-data tables (EP-Online labels, BAG addresses, CBS areas) are public reference
data, imported by management commands; they prefill a new dwelling and its dossier.
"""

from __future__ import annotations

import hashlib
import uuid

from auditlog.registry import auditlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import AccessQuerySet, Action, Policy
from accounts.roles import Role
from dossier.models import YEAR_VALIDATORS, EnergyLabel

# Never publish a cell of fewer households than this, whatever is configured.
K_MINIMUM = 5


class Purpose(models.TextChoices):
    """What a household may consent to, each on its own."""

    PROCESSING = "processing", _("processing of the house dossier by the initiative")
    AGGREGATES = "aggregates", _("sharing the home's characteristics in postcode-6 figures")
    ADDRESS_LEVEL = (
        "address_level",
        _("sharing the home's characteristics with its address with the municipality"),
    )
    RESEARCH = "research", _("being contacted for research")


class Channel(models.TextChoices):
    ONLINE = "online", _("online, by the resident")
    PAPER = "paper", _("on paper, during a visit")
    PHONE = "phone", _("by phone")
    EMAIL = "email", _("by e-mail or letter")
    # Only a withdrawal: the household's retention period expired (privacy/retention.py).
    RETENTION = "retention", _("ended when the retention period expired")


class ConsentText(models.Model):
    """One version of the text a resident agrees to for one purpose; it never changes.

    The hash of purpose, version and text is stored with it: a consent record points at
    the text, and the hash proves the text is the one that was shown. A correction is a
    new version with a later `valid_from`.
    """

    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    version = models.CharField(_("version"), max_length=20)
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(
        _("text"),
        help_text=_(
            "Purpose, which data, who receives it, the resident's rights, security, how long "
            "it is kept, that it is voluntary and what follows from refusing."
        ),
    )
    text_hash = models.CharField(_("SHA-256 of the text"), max_length=64, editable=False)
    valid_from = models.DateTimeField(_("valid from"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent text")
        verbose_name_plural = _("consent texts")
        ordering = ["purpose", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "version"], name="consent_text_version_unique"
            ),
            models.UniqueConstraint(
                fields=["purpose", "valid_from"], name="consent_text_valid_from_unique"
            ),
            models.CheckConstraint(
                condition=Q(text_hash__regex=r"^[0-9a-f]{64}$"), name="consent_text_hash_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.version}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError(_("A consent text never changes; add a new version."))
        self.text_hash = self.hash_of(self.purpose, self.version, self.text)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("A consent text is never deleted."))

    @staticmethod
    def hash_of(purpose: str, version: str, text: str) -> str:
        return hashlib.sha256(f"{purpose}\n{version}\n{text}".encode()).hexdigest()


class ConsentRecord(models.Model):
    """A household's consent for one purpose: given once, withdrawn at most once.

    Append-only: a row is never deleted and what was given never changes; withdrawing
    fills the withdrawal fields once. Giving consent again is a new row. The database
    allows one active (not withdrawn) record per household and purpose.
    """

    household = models.ForeignKey(
        "dossier.Household",
        on_delete=models.CASCADE,
        related_name="consents",
        verbose_name=_("household"),
    )
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    text = models.ForeignKey(
        ConsentText, on_delete=models.PROTECT, related_name="records", verbose_name=_("text")
    )
    given_at = models.DateTimeField(_("given at"))
    channel = models.CharField(_("given through"), max_length=10, choices=Channel.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawal_channel = models.CharField(
        _("withdrawn through"), max_length=10, choices=Channel.choices, blank=True
    )
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("withdrawal recorded by"),
    )

    objects = AccessQuerySet.as_manager()
    access_policy = Policy(
        organisation="household__initiative",
        roles={Action.VIEW: frozenset({Role.COORDINATOR})},
        coach="household__assigned_coach",
        coach_actions=frozenset({Action.VIEW}),
        resident="household__residents",
        resident_actions=frozenset({Action.VIEW, Action.CHANGE}),
    )

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["household", "purpose", "-given_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["household", "purpose"],
                condition=Q(withdrawn_at__isnull=True),
                name="consent_one_active_per_purpose",
                violation_error_message=_("This household already gave consent for this."),
            ),
            models.CheckConstraint(
                condition=(Q(withdrawn_at__isnull=True) & Q(withdrawal_channel=""))
                | (Q(withdrawn_at__isnull=False) & ~Q(withdrawal_channel="")),
                name="consent_withdrawal_complete",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gte=models.F("given_at")),
                name="consent_withdrawn_after_given",
            ),
        ]
        indexes = [
            models.Index(
                fields=["purpose", "household"],
                condition=Q(withdrawn_at__isnull=True),
                name="consent_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} ({timezone.localtime(self.given_at):%d-%m-%Y})"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None

    def delete(self, *args, **kwargs):
        raise ValidationError(_("A consent record is never deleted."))


class Level(models.TextChoices):
    """How fine the shared data may be, from finest to coarsest."""

    ADDRESS = "address", _("address level")
    PC6 = "pc6", _("postcode-6 areas")
    NEIGHBOURHOOD = "neighbourhood", _("neighbourhoods (buurten)")
    DISTRICT = "district", _("districts (wijken)")
    MUNICIPALITY = "municipality", _("municipalities")


# Finest first: an agreement for a level allows every coarser level too.
LEVEL_ORDER: tuple[str, ...] = tuple(Level.values)
AGGREGATE_LEVELS: tuple[str, ...] = LEVEL_ORDER[1:]


def level_allows(agreed: str, wanted: str) -> bool:
    """True when an agreement at level `agreed` covers data at level `wanted`."""
    return LEVEL_ORDER.index(wanted) >= LEVEL_ORDER.index(agreed)


def agreement_document_path(instance: SharingAgreement, filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower()[:10] if "." in filename else "pdf"
    return f"dataplatform/agreements/{uuid.uuid4().hex}.{suffix}"


class SharingAgreement(models.Model):
    """A data-sharing agreement between an initiative and a municipality or a province."""

    initiative = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="sharing_agreements",
        verbose_name=_("initiative"),
        limit_choices_to={"kind": "initiative"},
    )
    recipient = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="received_agreements",
        verbose_name=_("receiving organisation"),
        limit_choices_to={"kind__in": ["municipality", "province"]},
    )
    level = models.CharField(
        _("finest level allowed"),
        max_length=20,
        choices=Level.choices,
        help_text=_("Coarser levels are allowed too; address level only with consent per home."),
    )
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    reference = models.CharField(_("reference"), max_length=100)
    document = models.FileField(
        _("signed agreement"), upload_to=agreement_document_path, max_length=200
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    ended_at = models.DateTimeField(
        _("ended at"), null=True, blank=True, help_text=_("Ended early by one of the parties.")
    )

    objects = AccessQuerySet.as_manager()
    # Both parties see the agreement; only the administrator records one.
    access_policy = Policy(
        organisation="initiative",
        roles={Action.VIEW: frozenset({Role.COORDINATOR})},
        parties=(
            (
                "recipient",
                {Action.VIEW: frozenset({Role.MUNICIPALITY_STAFF, Role.PROVINCE_ANALYST})},
            ),
        ),
    )

    class Meta:
        verbose_name = _("sharing agreement")
        verbose_name_plural = _("sharing agreements")
        ordering = ["initiative", "recipient", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="agreement_period_order",
            ),
            models.CheckConstraint(
                condition=Q(level__in=[level.value for level in Level]),
                name="agreement_level_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.initiative} → {self.recipient} ({self.get_level_display()})"


# ---------------------------------------------------------------------------------------
# Open-data reference tables


class OpenDataKind(models.TextChoices):
    EP_ONLINE = "ep_online", _("EP-Online energy labels")
    BAG = "bag", _("BAG addresses and buildings")
    CBS_AREAS = "cbs_areas", _("CBS neighbourhoods and districts per address")


class ImportStatus(models.TextChoices):
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class OpenDataImport(models.Model):
    """One run of an import command: which file, of which date, and what it did."""

    kind = models.CharField(_("file"), max_length=20, choices=OpenDataKind.choices)
    file_name = models.CharField(_("file name"), max_length=255)
    file_date = models.DateField(_("date of the file"))
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    rows_written = models.PositiveIntegerField(_("rows written"), default=0)
    rows_skipped = models.PositiveIntegerField(_("rows skipped"), default=0)
    # The first bad rows: [{"line": 12, "message": "..."}]; public data, no personal data.
    problems = models.JSONField(_("rows skipped and why"), default=list, blank=True)

    class Meta:
        verbose_name = _("open-data import")
        verbose_name_plural = _("open-data imports")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_date:%d-%m-%Y}"


class RegisteredLabel(models.Model):
    """The current registered energy label of one address, from EP-Online's open data.

    The address is the primary key, and the only index: the monthly import writes
    millions of rows, and every index is paid for on each one. dataplatform.prefill finds
    a label by its address (postcode and house number lead the key) and compares the
    BAG id in Python.
    """

    pk = models.CompositePrimaryKey("postcode", "house_number", "suffix")
    postcode = models.CharField(_("postcode"), max_length=6)
    house_number = models.PositiveIntegerField(_("house number"))
    # House letter and addition as one upper-case string without separators ("A", "2",
    # "A2"), as EP-Online's Pand_huisnummer_toev mixes them.
    suffix = models.CharField(_("letter and addition"), max_length=8, blank=True)
    bag_id = models.CharField(_("BAG object id"), max_length=16, blank=True)
    label = models.CharField(_("energy label"), max_length=5, choices=EnergyLabel.choices)
    recorded_on = models.DateField(_("recording date"))
    registered_on = models.DateField(_("registration date"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    building_type = models.CharField(_("building type (EP-Online)"), max_length=60, blank=True)
    building_subtype = models.CharField(_("building subtype"), max_length=60, blank=True)
    floor_area_m2 = models.DecimalField(
        _("usable area (m²)"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    file_date = models.DateField(_("date of the file"))

    class Meta:
        verbose_name = _("registered energy label")
        verbose_name_plural = _("registered energy labels")

    def __str__(self) -> str:
        return f"{self.postcode} {self.house_number}{self.suffix}: {self.label}"


class BagAddress(models.Model):
    """One address object (verblijfsobject) of the BAG with what prefills a dwelling."""

    bag_id = models.CharField(_("BAG object id"), max_length=16)
    postcode = models.CharField(_("postcode"), max_length=6)
    house_number = models.PositiveIntegerField(_("house number"))
    house_letter = models.CharField(_("house letter"), max_length=1, blank=True)
    addition = models.CharField(_("addition"), max_length=4, blank=True)
    street = models.CharField(_("street"), max_length=120, blank=True)
    city = models.CharField(_("city"), max_length=80, blank=True)
    build_year = models.PositiveSmallIntegerField(
        _("build year"), null=True, blank=True, validators=YEAR_VALIDATORS
    )
    floor_area_m2 = models.PositiveIntegerField(
        _("usable area (m²)"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    uses = models.CharField(_("use"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=60, blank=True)
    building_id = models.CharField(_("BAG building id"), max_length=16, blank=True)
    file_date = models.DateField(_("date of the file"))

    class Meta:
        verbose_name = _("BAG address")
        verbose_name_plural = _("BAG addresses")
        # A constraint, not unique=True: on PostgreSQL that adds a second (LIKE) index.
        constraints = [models.UniqueConstraint(fields=["bag_id"], name="bag_address_bag_id")]
        indexes = [
            models.Index(
                fields=["postcode", "house_number", "house_letter", "addition"],
                name="bag_address_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.postcode} {self.house_number}{self.house_letter}{self.addition}"


class AddressArea(models.Model):
    """CBS's neighbourhood, district and municipality of a postcode and house number."""

    postcode = models.CharField(_("postcode"), max_length=6)
    house_number = models.PositiveIntegerField(_("house number"))
    neighbourhood_code = models.CharField(_("neighbourhood (CBS)"), max_length=10)
    district_code = models.CharField(_("district (CBS)"), max_length=8)
    municipality_code = models.CharField(_("municipality (CBS)"), max_length=6)
    file_date = models.DateField(_("date of the file"))

    class Meta:
        verbose_name = _("CBS area of an address")
        verbose_name_plural = _("CBS areas of addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["postcode", "house_number"], name="address_area_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.postcode} {self.house_number}: {self.neighbourhood_code}"


# ---------------------------------------------------------------------------------------
# What counts in the aggregates, one row per household


class SharedHousehold(models.Model):
    """The house characteristics of one household whose consent for aggregates is active.

    A copy that dataplatform.shared keeps in step with the dossier, the dwelling and the
    consent (the dossier's signals, the consent services, and a nightly check that puts
    right what drifted), so that every level of a publication is one GROUP BY over this
    table alone. Only house characteristics: no name, street, house number, energy use or
    answer of the resident. Withdrawing consent removes the row.
    """

    household = models.OneToOneField(
        "dossier.Household",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("household"),
    )
    initiative = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("initiative"),
    )
    municipality_code = models.CharField(_("CBS municipality code"), max_length=6, blank=True)
    postcode = models.CharField(_("postcode"), max_length=6)
    neighbourhood_code = models.CharField(_("CBS neighbourhood code"), max_length=10, blank=True)
    district_code = models.CharField(_("CBS district code"), max_length=8, blank=True)
    energy_label = models.CharField(
        _("energy label"), max_length=5, blank=True, choices=EnergyLabel.choices
    )
    dwelling_type = models.CharField(_("dwelling type"), max_length=20, blank=True)
    build_year = models.PositiveSmallIntegerField(_("build year"), null=True, blank=True)
    # The measure types done and wanted now, bit `id` set for each (dataplatform.shared).
    measures_done = models.BigIntegerField(_("measures done"), default=0)
    measures_wanted = models.BigIntegerField(_("measures wanted now"), default=0)

    class Meta:
        verbose_name = _("household in the aggregates")
        verbose_name_plural = _("households in the aggregates")
        indexes = [
            # A publication reads one municipality of the given initiatives at a time,
            # grouped by postcode.
            models.Index(
                fields=["municipality_code", "initiative", "postcode"],
                name="dp_shared_municipality_idx",
            ),
            models.Index(fields=["postcode"], name="dp_shared_postcode_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.household_id}: {self.postcode}"


# ---------------------------------------------------------------------------------------
# Publications and their delivery


class Publication(models.Model):
    """A snapshot of aggregate cells for one receiving organisation; it never changes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="publications",
        verbose_name=_("receiving organisation"),
        limit_choices_to={"kind__in": ["municipality", "province"]},
    )
    created_at = models.DateTimeField(_("made at"), auto_now_add=True)
    rules_version = models.CharField(_("rules version"), max_length=20)
    k = models.PositiveSmallIntegerField(
        _("minimum households per cell"), validators=[MinValueValidator(K_MINIMUM)]
    )
    households = models.PositiveIntegerField(_("households with consent"), default=0)
    # {level: [initiative ids]}: whose households each level counts, under the agreements
    # in force when it was made. A delivery goes only while all of them still hold.
    sources = models.JSONField(_("initiatives per level"), default=dict, blank=True)

    objects = AccessQuerySet.as_manager()
    access_policy = Policy(
        organisation="recipient",
        roles={Action.VIEW: frozenset({Role.MUNICIPALITY_STAFF, Role.PROVINCE_ANALYST})},
    )

    class Meta:
        verbose_name = _("publication")
        verbose_name_plural = _("publications")
        ordering = ["-created_at"]
        get_latest_by = "created_at"
        constraints = [
            models.CheckConstraint(condition=Q(k__gte=K_MINIMUM), name="publication_k_minimum"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {timezone.localtime(self.created_at):%d-%m-%Y %H:%M}"


class PublicationCell(models.Model):
    """One published figure: how many households in an area have one characteristic.

    `measure` names what is counted ("households", "label:D", "dwelling_type:terraced",
    "build_year:1945-1974", "measure_done:cavity_wall", "measure_wanted:floor"). A
    suppressed cell keeps no count at all: what was not published is not stored either.
    """

    publication = models.ForeignKey(
        Publication, on_delete=models.CASCADE, related_name="cells", verbose_name=_("publication")
    )
    level = models.CharField(_("level"), max_length=20, choices=Level.choices)
    area_code = models.CharField(_("area code"), max_length=10)
    municipality_code = models.CharField(_("municipality"), max_length=6)
    measure = models.CharField(_("what is counted"), max_length=60)
    count = models.PositiveIntegerField(_("households"), null=True, blank=True)
    suppressed = models.BooleanField(_("suppressed"), default=False)

    class Meta:
        verbose_name = _("published figure")
        verbose_name_plural = _("published figures")
        ordering = ["publication", "level", "area_code", "measure"]
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "level", "area_code", "measure"],
                name="publication_cell_unique",
            ),
            models.CheckConstraint(
                condition=(Q(suppressed=True) & Q(count__isnull=True))
                | (Q(suppressed=False) & Q(count__isnull=False)),
                name="publication_cell_count_or_suppressed",
            ),
            models.CheckConstraint(
                condition=Q(level__in=list(AGGREGATE_LEVELS)), name="publication_cell_level"
            ),
        ]
        indexes = [
            models.Index(
                fields=["publication", "municipality_code", "level"], name="publication_cell_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.area_code} {self.measure}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    DELIVERED = "delivered", _("delivered")
    REFUSED = "refused", _("refused by the platform")
    # The agreement ended (or narrowed) before the publication could be delivered.
    WITHHELD = "withheld", _("withheld: no agreement in force allows it any more")


class PublicationDelivery(models.Model):
    """The outbox: one publication to send to the platform, written with the publication.

    A worker picks up what is due (`next_attempt_at`), sends it signed with the same
    idempotency key every time, and retries a failure with capped exponential backoff.
    A refusal (4xx) is not retried: it waits for the administrator.
    """

    publication = models.OneToOneField(
        Publication,
        on_delete=models.CASCADE,
        related_name="delivery",
        verbose_name=_("publication"),
    )
    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(
        _("last HTTP status"), null=True, blank=True, validators=[MaxValueValidator(599)]
    )
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery to the platform")
        verbose_name_plural = _("deliveries to the platform")
        ordering = ["-publication__created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.publication} ({self.get_status_display()})"


auditlog.register(SharingAgreement)
auditlog.register(ConsentRecord)
auditlog.register(PublicationDelivery, include_fields=["status"])
