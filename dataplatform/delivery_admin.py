"""The administrator's view of publications and their delivery to the provincial platform.

Everything here is read-only: a publication never changes, and a delivery changes only
through dataplatform.delivery. A refusal by the platform waits for the administrator:
refused deliveries are listed first, marked, announced on the admin's front page, and
"Send again" puts them back in the queue with the same idempotency key.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin, messages
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dataplatform import delivery as delivery_service
from dataplatform.models import DeliveryStatus, Publication, PublicationDelivery

STATUS_ICONS = {
    DeliveryStatus.REFUSED: "admin/img/icon-no.svg",
    DeliveryStatus.PENDING: "admin/img/icon-clock.svg",
    DeliveryStatus.DELIVERED: "admin/img/icon-yes.svg",
    DeliveryStatus.WITHHELD: "admin/img/icon-alert.svg",
}


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Rows are looked at here, never added, edited or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Without an object this is the changelist asking whether actions may run; a
        # single row is only ever viewed.
        return obj is None and super().has_change_permission(request)


@admin.register(PublicationDelivery)
class PublicationDeliveryAdmin(_ReadOnlyAdmin):
    list_display = [
        "status_shown",
        "publication_link",
        "recipient",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "last_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status"]
    list_select_related = ["publication__recipient"]
    readonly_fields = [
        "publication_link",
        "recipient",
        "status_shown",
        "idempotency_key",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
    ]
    fields = readonly_fields
    actions = ["send_again"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PublicationDelivery]:
        # Refused first: they are the ones that wait for someone. The rank is annotated
        # before the ordering is applied, which ModelAdmin.get_queryset would do first.
        rank = Case(
            When(status=DeliveryStatus.REFUSED, then=Value(0)),
            When(status=DeliveryStatus.PENDING, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        return PublicationDelivery.objects.annotate(status_rank=rank).order_by(
            *self.get_ordering(request)
        )

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["status_rank", "-publication__created_at"]

    @admin.display(description=_("status"), ordering="status_rank")
    def status_shown(self, obj: PublicationDelivery) -> SafeString:
        text = obj.get_status_display()
        if obj.status == DeliveryStatus.REFUSED:
            return format_html(
                '<img src="{}" alt=""> <strong>{}</strong>', static(STATUS_ICONS[obj.status]), text
            )
        return format_html('<img src="{}" alt=""> {}', static(STATUS_ICONS[obj.status]), text)

    @admin.display(description=_("publication"), ordering="publication__created_at")
    def publication_link(self, obj: PublicationDelivery) -> SafeString:
        url = reverse("admin:dataplatform_publication_change", args=[obj.publication_id])
        return format_html('<a href="{}">{}</a>', url, obj.publication)

    @admin.display(description=_("receiving organisation"), ordering="publication__recipient")
    def recipient(self, obj: PublicationDelivery) -> str:
        return str(obj.publication.recipient)

    @admin.action(description=_("Send again"), permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[PublicationDelivery]) -> None:
        queued = sum(
            delivery_service.delivery_retry(delivery=delivery, actor=request.user)  # type: ignore[arg-type]
            for delivery in queryset
        )
        skipped = len(queryset) - queued
        if queued:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery will be sent again.",
                    "%(count)d deliveries will be sent again.",
                    queued,
                )
                % {"count": queued},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery was not refused and was left as it was.",
                    "%(count)d deliveries were not refused and were left as they were.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


@admin.register(Publication)
class PublicationAdmin(_ReadOnlyAdmin):
    list_display = [
        "created_at",
        "recipient",
        "rules_version",
        "k",
        "households",
        "cell_count",
        "delivery_link",
    ]
    list_filter = ["recipient"]
    list_select_related = ["recipient", "delivery"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "recipient",
        "created_at",
        "rules_version",
        "k",
        "households",
        "cell_count",
        "delivery_link",
    ]
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Publication]:
        return super().get_queryset(request).annotate(cell_count=Count("cells"))

    @admin.display(description=_("published figures"), ordering="cell_count")
    def cell_count(self, obj: Publication) -> int:
        return obj.cell_count  # type: ignore[attr-defined]

    @admin.display(description=_("delivery to the platform"))
    def delivery_link(self, obj: Publication) -> SafeString | str:
        try:
            delivery = obj.delivery
        except PublicationDelivery.DoesNotExist:
            return "-"
        url = reverse("admin:dataplatform_publicationdelivery_change", args=[delivery.pk])
        return format_html('<a href="{}">{}</a>', url, delivery.get_status_display())


def _warn_about_refusals(index: Any) -> Any:
    """Wrap the admin's front page so it says when deliveries wait for the administrator."""

    @functools.wraps(index)
    def wrapped(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        model_admin = admin.site.get_model_admin(PublicationDelivery)
        if model_admin.has_view_permission(request):
            refused = PublicationDelivery.objects.filter(status=DeliveryStatus.REFUSED).count()
            if refused:
                text = ngettext(
                    "The data platform refused %(count)d publication.",
                    "The data platform refused %(count)d publications.",
                    refused,
                ) % {"count": refused}
                url = reverse("admin:dataplatform_publicationdelivery_changelist")
                messages.warning(
                    request,
                    format_html(
                        '{} <a href="{}?status={}">{}</a>',
                        text,
                        url,
                        DeliveryStatus.REFUSED,
                        _("Show the refused deliveries"),
                    ),
                )
        return index(request, extra_context)

    wrapped.warns_about_refusals = True  # type: ignore[attr-defined]
    return wrapped


# The URLs are built from admin.site.index when they are first loaded, after the apps'
# admin modules have been imported, so this wrapper is in place by then.
if not getattr(admin.site.index, "warns_about_refusals", False):
    admin.site.index = _warn_about_refusals(admin.site.index)  # type: ignore[method-assign]
