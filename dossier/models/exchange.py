"""What coach and resident exchange inside a dossier: messages, documents and photos.

Files live in the default storage under paths made of random ids; MEDIA_URL is never
routed, so a file is only ever served by a view that loads its row through the access
module first.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.access import AccessQuerySet
from dossier.models.house import BuildingComponent, Dossier, _household_policy
from dossier.models.measure import DossierMeasure


def _private_path(folder: str, extension: str) -> str:
    # Random names: an uploaded file's own name may hold a person's name or address.
    return f"dossiers/{folder}/{uuid.uuid4().hex}{extension}"


def document_path(instance: Document, filename: str) -> str:
    return _private_path("documents", instance.extension)


def photo_path(instance: Photo, filename: str) -> str:
    return _private_path("photos", ".jpg")


def thumbnail_path(instance: Photo, filename: str) -> str:
    return _private_path("thumbnails", ".jpg")


class Visibility(models.TextChoices):
    SHARED = "shared", _("resident and staff")
    STAFF = "staff", _("staff only")


class Message(models.Model):
    dossier = models.ForeignKey(
        Dossier, on_delete=models.CASCADE, related_name="messages", verbose_name=_("dossier")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("author"),
    )
    visibility = models.CharField(
        _("visible to"), max_length=10, choices=Visibility.choices, default=Visibility.SHARED
    )
    body = models.TextField(_("message"), max_length=10000)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True, db_index=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _household_policy("dossier__household")

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{_('message')} {self.pk}"


class MessageRead(models.Model):
    """That one user has read one message."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="message_read_once"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id}/{self.user_id}"


class DocumentKind(models.TextChoices):
    QUOTE = "quote", _("quote")
    INVOICE = "invoice", _("invoice")
    REPORT = "report", _("advice report")
    OTHER = "other", _("other document")


class Document(models.Model):
    dossier = models.ForeignKey(
        Dossier, on_delete=models.CASCADE, related_name="documents", verbose_name=_("dossier")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=DocumentKind.choices)
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), upload_to=document_path, max_length=200)
    content_type = models.CharField(_("file type"), max_length=100)
    extension = models.CharField(max_length=10)
    size = models.PositiveIntegerField(_("size in bytes"))
    visibility = models.CharField(
        _("visible to"), max_length=10, choices=Visibility.choices, default=Visibility.SHARED
    )
    measure = models.ForeignKey(
        DossierMeasure,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="documents",
        verbose_name=_("measure"),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _household_policy("dossier__household")

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class Photo(models.Model):
    """A photo taken during the visit, re-encoded without EXIF/GPS, with a thumbnail."""

    dossier = models.ForeignKey(
        Dossier, on_delete=models.CASCADE, related_name="photos", verbose_name=_("dossier")
    )
    image = models.ImageField(_("photo"), upload_to=photo_path, max_length=200)
    thumbnail = models.ImageField(_("thumbnail"), upload_to=thumbnail_path, max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    component = models.ForeignKey(
        BuildingComponent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="photos",
        verbose_name=_("part of the home"),
    )
    measure = models.ForeignKey(
        DossierMeasure,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="photos",
        verbose_name=_("measure"),
    )
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    # A coach may keep a photo to staff (e.g. of something the resident is not to see yet).
    visibility = models.CharField(
        _("visible to"), max_length=10, choices=Visibility.choices, default=Visibility.SHARED
    )
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("taken by"),
    )
    created_at = models.DateTimeField(_("taken at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = _household_policy("dossier__household")

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.caption or f"{_('photo')} {self.pk}"
