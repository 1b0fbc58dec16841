"""Services and selectors for what coach and resident exchange in a dossier.

Messages, documents and photos. Staff-only messages, documents and photos are filtered
here, in every read, so no page or API can show them to a resident by forgetting a check.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import access

# tasks imports this module too; both import the module, not names, so the cycle resolves.
from dossier import storage, tasks, uploads
from dossier.models import (
    BuildingComponent,
    Document,
    Dossier,
    DossierMeasure,
    Message,
    MessageRead,
    Photo,
)
from dossier.models.exchange import DocumentKind, Visibility

if TYPE_CHECKING:
    from typing import IO

    from accounts.models import User

logger = logging.getLogger(__name__)

# The same text from the same person in the same dossier within this window is one
# message sent twice (a double click, a resubmitted form), not two messages.
DUPLICATE_WINDOW = timedelta(seconds=30)


def _visibilities_for(*, dossier: Dossier, user: User) -> list[str]:
    if access.is_staff_viewer(user, residents=dossier.household.residents.all()):
        return [Visibility.SHARED, Visibility.STAFF]
    return [Visibility.SHARED]


# Selectors ------------------------------------------------------------------------------


def message_list(*, dossier: Dossier, viewer: User) -> QuerySet[Message]:
    """The messages the viewer may read, oldest first, each with `is_read` for the viewer."""
    return (
        Message.objects.filter(
            dossier=dossier, visibility__in=_visibilities_for(dossier=dossier, user=viewer)
        )
        .select_related("author")
        .annotate(is_read=Exists(MessageRead.objects.filter(message=OuterRef("pk"), user=viewer)))
    )


def unread_message_count(*, dossier: Dossier, user: User) -> int:
    """How many messages the user may read but has not opened yet (own messages excluded)."""
    return (
        message_list(dossier=dossier, viewer=user)
        .exclude(author=user)
        .filter(is_read=False)
        .count()
    )


def document_list(*, dossier: Dossier, viewer: User) -> QuerySet[Document]:
    return Document.objects.filter(
        dossier=dossier, visibility__in=_visibilities_for(dossier=dossier, user=viewer)
    ).select_related("uploaded_by", "measure__measure_type")


def document_get(*, dossier: Dossier, viewer: User, pk: int) -> Document:
    """One document of this dossier the viewer may see, or Http404."""
    return access.get_for(viewer, document_list(dossier=dossier, viewer=viewer), pk=pk)


def photo_list(*, dossier: Dossier, viewer: User) -> QuerySet[Photo]:
    return (
        Photo.objects.visible_to(viewer)
        .filter(dossier=dossier, visibility__in=_visibilities_for(dossier=dossier, user=viewer))
        .select_related("component", "measure__measure_type", "taken_by")
    )


def photo_get(*, dossier: Dossier, viewer: User, pk: int) -> Photo:
    return access.get_for(viewer, photo_list(dossier=dossier, viewer=viewer), pk=pk)


# Messages -------------------------------------------------------------------------------


def _notify_recipients(*, message: Message) -> list[int]:
    """The ids of the people to tell about a new message: the other side of the dossier."""
    household = message.dossier.household
    if message.visibility == Visibility.STAFF:
        return []
    if access.is_staff_viewer(message.author, residents=household.residents.all()):
        people = list(household.residents.filter(is_active=True))
    else:
        coach = household.assigned_coach
        people = [coach] if coach is not None and coach.is_active else []
    return [p.pk for p in people if p.email and p.pk != message.author_id]


def message_notification_send(*, message_id: int, user_id: int) -> bool:
    """Tell one person that the dossier has a new message for them; True when mailed.

    The mail says only that there is a message: the text, names and the address stay
    inside the application, behind a login.
    """
    message = (
        Message.objects.filter(pk=message_id, visibility=Visibility.SHARED)
        .select_related("dossier")
        .first()
    )
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    # Deleted, or the person left (or lost the dossier) since: nothing to tell.
    if message is None or user is None or not user.email:
        return False
    if not access.allows(user, message.dossier):
        return False
    # SITE_URL, not the request's Host header: whoever sends a request chooses that.
    link = settings.SITE_URL + reverse("dossier:dossier-messages", args=[message.dossier_id])
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string("emails/dossier-message-subject.txt").strip()
        body = render_to_string("emails/dossier-message-body.txt", {"link": link})
    send_mail(subject, body, None, [user.email])
    return True


@transaction.atomic
def message_send(*, dossier: Dossier, author: User, body: str, visibility: str) -> Message:
    """Store a message and, after commit, tell the other side that there is one.

    A resident's message is always shared. The same text sent again by the same person
    within DUPLICATE_WINDOW returns the first message instead of storing a second one.
    """
    body = body.strip()
    if not body:
        raise ValidationError(_("Write a message first."), code="empty")
    if visibility not in Visibility.values:
        raise ValidationError(_("Choose who may read the message."), code="visibility")
    if not access.is_staff_viewer(author, residents=dossier.household.residents.all()):
        visibility = Visibility.SHARED
    # The row lock makes two simultaneous submits of one form wait for each other, so
    # the second one finds the first message.
    Dossier.objects.select_for_update().filter(pk=dossier.pk).first()
    duplicate = (
        Message.objects.filter(
            dossier=dossier,
            author=author,
            body=body,
            visibility=visibility,
            created_at__gte=timezone.now() - DUPLICATE_WINDOW,
        )
        .order_by("-created_at")
        .first()
    )
    if duplicate is not None:
        return duplicate
    message = Message.objects.create(
        dossier=dossier, author=author, body=body, visibility=visibility
    )
    # The author has read their own message.
    MessageRead.objects.create(message=message, user=author)
    # One task per person: a retry after a mail server hiccup never mails the others twice.
    for user_id in _notify_recipients(message=message):
        tasks.message_notification_send.delay_on_commit(message.pk, user_id)
    return message


def messages_mark_read(*, dossier: Dossier, user: User) -> int:
    """Mark every message the user may read in this dossier as read; returns how many."""
    unread = message_list(dossier=dossier, viewer=user).filter(is_read=False)
    rows = [MessageRead(message_id=pk, user=user) for pk in unread.values_list("pk", flat=True)]
    # Two tabs opening the page at once would insert the same rows; the unique
    # constraint plus ignore_conflicts makes that harmless.
    MessageRead.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# Documents and photos -------------------------------------------------------------------


def _check_measure(*, dossier: Dossier, measure: DossierMeasure | None) -> None:
    if measure is not None and measure.dossier_id != dossier.pk:
        raise ValidationError(_("This measure is not part of this dossier."), code="measure")


def _delete_files_on_commit(*names: str) -> None:
    def delete() -> None:
        for name in names:
            if name:
                default_storage.delete(name)

    transaction.on_commit(delete)


def _delete_files_now(*names: str) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


@transaction.atomic
def document_add(
    *,
    dossier: Dossier,
    uploaded_by: User,
    upload: IO[bytes],
    kind: str,
    title: str,
    visibility: str,
    measure: DossierMeasure | None = None,
) -> Document:
    """Check the file by its content and store it under a random name."""
    if kind not in DocumentKind.values:
        raise ValidationError(_("Choose the kind of document."), code="kind")
    if visibility not in Visibility.values:
        raise ValidationError(_("Choose who may see the document."), code="visibility")
    if not access.is_staff_viewer(uploaded_by, residents=dossier.household.residents.all()):
        visibility = Visibility.SHARED
    _check_measure(dossier=dossier, measure=measure)
    clean = uploads.clean_document(upload)
    document = Document(
        dossier=dossier,
        kind=kind,
        title=title.strip()[:200] or DocumentKind(kind).label,
        content_type=clean.content_type,
        extension=clean.extension,
        size=len(clean.content),
        visibility=visibility,
        measure=measure,
        uploaded_by=uploaded_by,
    )
    # The name given here is ignored: upload_to makes a random one.
    document.file.save("document", ContentFile(clean.content), save=False)
    try:
        document.save()
    except BaseException:
        _delete_files_now(document.file.name)
        raise
    # The request around this service can still roll the row back after it returns.
    storage.delete_on_rollback(document, document.file.name)
    return document


@transaction.atomic
def photo_add(
    *,
    dossier: Dossier,
    taken_by: User,
    upload: IO[bytes],
    component: BuildingComponent | None = None,
    measure: DossierMeasure | None = None,
    caption: str = "",
    visibility: str = Visibility.SHARED,
) -> Photo:
    """Re-encode the photo without metadata, make its thumbnail and store both.

    A resident's photo is always shared; staff may keep one to staff.
    """
    if visibility not in Visibility.values:
        raise ValidationError(_("Choose who may see the photo."), code="visibility")
    if not access.is_staff_viewer(taken_by, residents=dossier.household.residents.all()):
        visibility = Visibility.SHARED
    if component is not None and component.dossier_id != dossier.pk:
        raise ValidationError(_("This part of the home is not part of this dossier."))
    _check_measure(dossier=dossier, measure=measure)
    clean = uploads.clean_photo(upload)
    photo = Photo(
        dossier=dossier,
        width=clean.width,
        height=clean.height,
        component=component,
        measure=measure,
        caption=caption.strip()[:200],
        visibility=visibility,
        taken_by=taken_by,
    )
    try:
        photo.image.save("photo.jpg", ContentFile(clean.content), save=False)
        photo.thumbnail.save("thumbnail.jpg", ContentFile(clean.thumbnail), save=False)
        photo.save()
    except BaseException:
        _delete_files_now(photo.image.name, photo.thumbnail.name)
        raise
    # The request around this service can still roll the row back after it returns.
    storage.delete_on_rollback(photo, photo.image.name, photo.thumbnail.name)
    return photo


@transaction.atomic
def document_delete(*, document: Document, actor: User) -> None:
    """Staff remove a document; the file goes once the row is gone for good."""
    if not access.is_staff_viewer(actor, residents=document.dossier.household.residents.all()):
        raise PermissionError("only staff delete documents")
    name = document.file.name
    document.delete()
    _delete_files_on_commit(name)


@transaction.atomic
def photo_delete(*, photo: Photo, actor: User) -> None:
    if not access.is_staff_viewer(actor, residents=photo.dossier.household.residents.all()):
        raise PermissionError("only staff delete photos")
    names = (photo.image.name, photo.thumbnail.name)
    photo.delete()
    _delete_files_on_commit(*names)
