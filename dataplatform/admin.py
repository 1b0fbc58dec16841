"""What the platform administrator keeps for the data platform.

Consent texts are added as new versions and never changed or deleted: a record points
at the text a resident agreed to. Consent records are evidence and are only listed,
never written here. Sharing agreements are recorded here with their signed document;
both parties then see them in the application, and the recipient's figures are made
at once (and again on request) instead of at night. Open-data imports are run by commands
and only listed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dataplatform import tasks
from dataplatform.agreements import in_force
from dataplatform.models import ConsentRecord, ConsentText, OpenDataImport, SharingAgreement

# A signed agreement is a PDF; nothing else is stored or served.
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    """Add a new version; an existing text is shown read-only with its hash."""

    list_display = ["purpose", "version", "title", "valid_from", "text_hash"]
    list_filter = ["purpose"]
    fields = ["purpose", "version", "title", "text", "valid_from", "text_hash", "created_at"]
    readonly_fields = ["text_hash", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ConsentText | None = None):
        if obj is not None:
            return self.fields
        return self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: ConsentText | None = None) -> bool:
        # The change form is shown read-only (view permission); nothing can be saved.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ConsentText | None = None) -> bool:
        return False


class ActiveFilter(admin.SimpleListFilter):
    title = _("active")
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: Any):
        return [("yes", _("Yes")), ("no", _("No, withdrawn"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(withdrawn_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(withdrawn_at__isnull=False)
        return queryset


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    """Consents as given and withdrawn; the administrator looks, never writes."""

    # The household by id only: the administrator has no casual access to dossiers.
    list_display = ["household_id", "purpose", "given_at", "channel", "withdrawn_at"]
    list_filter = ["purpose", "channel", ActiveFilter]
    list_select_related = ["text"]
    date_hierarchy = "given_at"
    # Not who recorded or withdrew it: for a consent given online that is the resident.
    fields = [
        "household_id",
        "purpose",
        "text",
        "given_at",
        "channel",
        "withdrawn_at",
        "withdrawal_channel",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InForceFilter(admin.SimpleListFilter):
    title = _("in force")
    parameter_name = "in_force"

    def lookups(self, request: HttpRequest, model_admin: Any):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        today = timezone.localdate()
        if self.value() == "yes":
            return queryset.filter(in_force(today))
        if self.value() == "no":
            return queryset.exclude(in_force(today))
        return queryset


class SharingAgreementForm(forms.ModelForm):
    class Meta:
        model = SharingAgreement
        fields = [
            "initiative",
            "recipient",
            "level",
            "valid_from",
            "valid_until",
            "reference",
            "document",
            "ended_at",
        ]

    def clean_document(self) -> Any:
        document = self.cleaned_data.get("document")
        # Only a new upload needs checking; a stored file was checked when it came in.
        if not isinstance(document, UploadedFile):
            return document
        if document.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(_("The document is larger than 20 MB."))
        head = document.read(5)
        document.seek(0)
        if head != b"%PDF-":
            raise forms.ValidationError(_("Upload the signed agreement as a PDF file."))
        return document


@admin.register(SharingAgreement)
class SharingAgreementAdmin(admin.ModelAdmin):
    """Record an agreement and its signed document; end it early with "ended at"."""

    form = SharingAgreementForm
    list_display = [
        "reference",
        "initiative",
        "recipient",
        "level",
        "valid_from",
        "valid_until",
        "ended_at",
    ]
    list_filter = ["level", InForceFilter]
    list_select_related = ["initiative", "recipient"]
    search_fields = ["reference", "initiative__name", "recipient__name"]
    readonly_fields = ["created_at", "created_by"]
    actions = ["publish_now"]

    def save_model(self, request: HttpRequest, obj: SharingAgreement, form: Any, change: bool):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        # The recipient's figures follow the agreement today, not after the night's run;
        # so do the figures of a recipient the agreement was moved away from.
        recipients = {obj.recipient_id}
        if change and "recipient" in form.changed_data and form.initial.get("recipient"):
            recipients.add(form.initial["recipient"])
        for recipient_id in sorted(recipients):
            tasks.publication_make_now.delay_on_commit(recipient_id)

    @admin.action(
        description=_("Publish the figures for these agreements' recipients now"),
        permissions=["change"],
    )
    def publish_now(self, request: HttpRequest, queryset: QuerySet[SharingAgreement]) -> None:
        # Only what will make figures: an agreement in force, with an active recipient.
        current = queryset.filter(
            in_force(timezone.localdate()), recipient__is_active=True, initiative__is_active=True
        )
        recipients = sorted(set(current.values_list("recipient_id", flat=True)))
        if not recipients:
            self.message_user(
                request,
                _("None of these agreements is in force: there are no figures to make."),
                messages.WARNING,
            )
            return
        for recipient_id in recipients:
            tasks.publication_make_now.delay_on_commit(recipient_id)
        self.message_user(
            request,
            ngettext(
                "The figures for %(count)d recipient are being made; they appear on its "
                "dashboard within a few minutes.",
                "The figures for %(count)d recipients are being made; they appear on their "
                "dashboards within a few minutes.",
                len(recipients),
            )
            % {"count": len(recipients)},
            messages.SUCCESS,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An agreement is the record of what was lawfully shared and when: it ends, it stays.
        return False


@admin.register(OpenDataImport)
class OpenDataImportAdmin(admin.ModelAdmin):
    """The runs of the import commands: which file, of which date, and what they did."""

    list_display = [
        "kind",
        "file_name",
        "file_date",
        "status",
        "started_at",
        "finished_at",
        "rows_read",
        "rows_written",
        "rows_skipped",
    ]
    list_filter = ["kind", "status"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Publications and their outbox have their own admin module.
from dataplatform import delivery_admin  # noqa: E402, F401
