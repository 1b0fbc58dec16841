"""Pages for messages, documents and photos of one dossier, and the views that serve files.

Every view loads the dossier through the access module first; a file is loaded through
the dossier's own selector, so staff-only documents and photos stay invisible to
residents even when someone types their URL.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import access
from accounts.access import Action
from dossier import exchange
from dossier.access_log import access_logged
from dossier.models import BuildingComponent, Dossier, DossierMeasure
from dossier.models.exchange import DocumentKind, Visibility

# Forms -----------------------------------------------------------------------------------


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Your message"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    staff_only = forms.BooleanField(
        label=_("Only for staff (the residents do not see this message)"), required=False
    )

    def __init__(self, *args: Any, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not staff:
            del self.fields["staff_only"]


class DocumentForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("A PDF, JPEG or PNG file of at most 20 MB."),
        widget=forms.FileInput(attrs={"accept": ".pdf,application/pdf,image/jpeg,image/png"}),
    )
    kind = forms.ChoiceField(label=_("Kind of document"), choices=DocumentKind.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    measure = forms.ModelChoiceField(
        label=_("Measure"),
        queryset=DossierMeasure.objects.none(),
        required=False,
        empty_label=_("(none)"),
    )
    staff_only = forms.BooleanField(
        label=_("Only for staff (the residents do not see this document)"), required=False
    )

    def __init__(self, *args: Any, dossier: Dossier, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only this dossier's measures are valid choices; another dossier's id is refused.
        self.fields["measure"].queryset = dossier.measures.select_related("measure_type")
        if not staff:
            del self.fields["staff_only"]


class PhotoForm(forms.Form):
    image = forms.FileField(
        label=_("Photo"),
        help_text=_("Take a photo or choose one (JPEG, PNG or WebP, at most 15 MB)."),
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    component = forms.ModelChoiceField(
        label=_("Part of the home"),
        queryset=BuildingComponent.objects.none(),
        required=False,
        empty_label=_("(none)"),
    )
    measure = forms.ModelChoiceField(
        label=_("Measure"),
        queryset=DossierMeasure.objects.none(),
        required=False,
        empty_label=_("(none)"),
    )
    caption = forms.CharField(label=_("Caption"), max_length=200, required=False)
    staff_only = forms.BooleanField(
        label=_("Only for staff (the residents do not see this photo)"), required=False
    )

    def __init__(self, *args: Any, dossier: Dossier, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["component"].queryset = dossier.components.all()
        self.fields["component"].label_from_instance = lambda c: capfirst(c.get_kind_display())
        self.fields["measure"].queryset = dossier.measures.select_related("measure_type")
        if not staff:
            del self.fields["staff_only"]


def _add_errors(form: forms.Form, field: str, error: ValidationError) -> None:
    for message in error.messages:
        form.add_error(field, message)


def _load(request: HttpRequest, pk: int, *, write: bool = False) -> Dossier:
    return access.get_for(
        request.user,
        # The residents decide whether the viewer sees the dossier as staff.
        Dossier.objects.select_related("household").prefetch_related("household__residents"),
        action=Action.CHANGE if write else Action.VIEW,
        pk=pk,
    )


def _context(request: HttpRequest, dossier: Dossier, **extra: Any) -> dict[str, Any]:
    return {
        "dossier": dossier,
        "household": dossier.household,
        "is_staff_viewer": access.is_staff_viewer(
            request.user, residents=dossier.household.residents.all()
        ),
        **extra,
    }


# Pages -----------------------------------------------------------------------------------


@access_logged("messages")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def dossier_messages(request: HttpRequest, pk: int) -> HttpResponse:
    dossier = _load(request, pk, write=request.method == "POST")
    staff = access.is_staff_viewer(request.user, residents=dossier.household.residents.all())
    form = MessageForm(request.POST or None, staff=staff)
    if request.method == "POST" and form.is_valid():
        try:
            exchange.message_send(
                dossier=dossier,
                author=request.user,
                body=form.cleaned_data["body"],
                visibility=(
                    Visibility.STAFF if form.cleaned_data.get("staff_only") else Visibility.SHARED
                ),
            )
        except ValidationError as error:
            _add_errors(form, "body", error)
        else:
            messages.success(request, _("Your message has been sent."))
            return redirect("dossier:dossier-messages", pk=dossier.pk)
    # Read the list (with its read state) before marking it, so the page can still show
    # which messages are new on this visit.
    message_rows = list(exchange.message_list(dossier=dossier, viewer=request.user))
    if request.method == "GET":
        exchange.messages_mark_read(dossier=dossier, user=request.user)
    return render(
        request,
        "dossier/exchange_messages.html",
        _context(request, dossier, message_rows=message_rows, form=form, current="messages"),
    )


@access_logged("documents")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def dossier_documents(request: HttpRequest, pk: int) -> HttpResponse:
    dossier = _load(request, pk, write=request.method == "POST")
    staff = access.is_staff_viewer(request.user, residents=dossier.household.residents.all())
    form = DocumentForm(request.POST or None, request.FILES or None, dossier=dossier, staff=staff)
    if request.method == "POST" and form.is_valid():
        try:
            exchange.document_add(
                dossier=dossier,
                uploaded_by=request.user,
                upload=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
                title=form.cleaned_data["title"],
                visibility=(
                    Visibility.STAFF if form.cleaned_data.get("staff_only") else Visibility.SHARED
                ),
                measure=form.cleaned_data["measure"],
            )
        except ValidationError as error:
            _add_errors(form, "file", error)
        else:
            messages.success(request, _("The document has been added."))
            return redirect("dossier:dossier-documents", pk=dossier.pk)
    documents = exchange.document_list(dossier=dossier, viewer=request.user)
    return render(
        request,
        "dossier/exchange_documents.html",
        _context(request, dossier, documents=documents, form=form, current="documents"),
    )


@access_logged("photos")
@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def dossier_photos(request: HttpRequest, pk: int) -> HttpResponse:
    dossier = _load(request, pk, write=request.method == "POST")
    staff = access.is_staff_viewer(request.user, residents=dossier.household.residents.all())
    form = PhotoForm(request.POST or None, request.FILES or None, dossier=dossier, staff=staff)
    if request.method == "POST" and form.is_valid():
        try:
            exchange.photo_add(
                dossier=dossier,
                taken_by=request.user,
                upload=form.cleaned_data["image"],
                component=form.cleaned_data["component"],
                measure=form.cleaned_data["measure"],
                caption=form.cleaned_data["caption"],
                visibility=(
                    Visibility.STAFF if form.cleaned_data.get("staff_only") else Visibility.SHARED
                ),
            )
        except ValidationError as error:
            _add_errors(form, "image", error)
        else:
            messages.success(request, _("The photo has been added."))
            return redirect("dossier:dossier-photos", pk=dossier.pk)
    photos = exchange.photo_list(dossier=dossier, viewer=request.user)
    return render(
        request,
        "dossier/exchange_photos.html",
        _context(request, dossier, photos=photos, form=form, current="photos"),
    )


@require_POST
@login_required
@never_cache
def document_delete(request: HttpRequest, pk: int, doc_pk: int) -> HttpResponse:
    dossier = _load(request, pk, write=True)
    if not access.is_staff_viewer(request.user, residents=dossier.household.residents.all()):
        raise Http404
    document = exchange.document_get(dossier=dossier, viewer=request.user, pk=doc_pk)
    exchange.document_delete(document=document, actor=request.user)
    messages.success(request, _("The document has been deleted."))
    return redirect("dossier:dossier-documents", pk=dossier.pk)


@require_POST
@login_required
@never_cache
def photo_delete(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    dossier = _load(request, pk, write=True)
    if not access.is_staff_viewer(request.user, residents=dossier.household.residents.all()):
        raise Http404
    photo = exchange.photo_get(dossier=dossier, viewer=request.user, pk=photo_pk)
    exchange.photo_delete(photo=photo, actor=request.user)
    messages.success(request, _("The photo has been deleted."))
    return redirect("dossier:dossier-photos", pk=dossier.pk)


# Files -----------------------------------------------------------------------------------


def private_file_response(
    field_file: Any, *, content_type: str, filename: str, attachment: bool
) -> FileResponse:
    try:
        handle = field_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle, as_attachment=attachment, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Personal files stay out of shared caches and off the disk of a shared computer.
    response["Cache-Control"] = "private, no-store"
    # A PDF or image opened from here runs no script and cannot frame anything.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@access_logged("document_file")
@require_GET
@login_required
@never_cache
def document_file(request: HttpRequest, pk: int, doc_pk: int) -> FileResponse:
    dossier = _load(request, pk)
    document = exchange.document_get(dossier=dossier, viewer=request.user, pk=doc_pk)
    # The file name is made from ids only: the title may hold a name or an address.
    return private_file_response(
        document.file,
        content_type=document.content_type,
        filename=f"document-{document.pk}{document.extension}",
        attachment=True,
    )


def _photo_file(request: HttpRequest, pk: int, photo_pk: int, *, thumbnail: bool) -> FileResponse:
    dossier = _load(request, pk)
    photo = exchange.photo_get(dossier=dossier, viewer=request.user, pk=photo_pk)
    return private_file_response(
        photo.thumbnail if thumbnail else photo.image,
        content_type="image/jpeg",
        filename=f"{'thumbnail' if thumbnail else 'photo'}-{photo.pk}.jpg",
        attachment=False,
    )


@access_logged("photo_file")
@require_GET
@login_required
@never_cache
def photo_image(request: HttpRequest, pk: int, photo_pk: int) -> FileResponse:
    return _photo_file(request, pk, photo_pk, thumbnail=False)


@access_logged("photo_file")
@require_GET
@login_required
@never_cache
def photo_thumbnail(request: HttpRequest, pk: int, photo_pk: int) -> FileResponse:
    return _photo_file(request, pk, photo_pk, thumbnail=True)
