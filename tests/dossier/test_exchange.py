from __future__ import annotations

import io
import struct
import zlib
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import resolve, reverse
from PIL import ExifTags, Image

from dossier import exchange, exchange_views, selectors, storage, tasks, uploads
from dossier.models import Document, Message, MessageRead, Photo
from dossier.models.exchange import DocumentKind, Visibility
from tests import builders

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()]


def jpeg(size=(600, 400), *, gps: bool = False, orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Telefoon"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (52.0, 5.0, 30.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (5.0, 10.0, 15.0),
        }
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def png(size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 120, 0, 128)).save(out, format="PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be enormous: a decompression bomb as far as its header goes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def upload(data: bytes, name: str = "foto.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def messages_url(household) -> str:
    return reverse("dossier:dossier-messages", args=[household.dossier.pk])


def documents_url(household) -> str:
    return reverse("dossier:dossier-documents", args=[household.dossier.pk])


def photos_url(household) -> str:
    return reverse("dossier:dossier-photos", args=[household.dossier.pk])


def add_document(household, user, *, visibility=Visibility.SHARED, data=PDF) -> Document:
    return exchange.document_add(
        dossier=household.dossier,
        uploaded_by=user,
        upload=upload(data, "offerte Jansen Dorpsstraat 1.pdf", "application/pdf"),
        kind=DocumentKind.QUOTE,
        title="Offerte isolatie",
        visibility=visibility,
    )


def add_photo(household, user, **kwargs) -> Photo:
    return exchange.photo_add(
        dossier=household.dossier, taken_by=user, upload=upload(jpeg(gps=True)), **kwargs
    )


def file_urls(household, document: Document, photo: Photo) -> list[str]:
    pk = household.dossier.pk
    return [
        reverse("dossier:document-file", args=[pk, document.pk]),
        reverse("dossier:photo-image", args=[pk, photo.pk]),
        reverse("dossier:photo-thumbnail", args=[pk, photo.pk]),
    ]


# Access -----------------------------------------------------------------------------------


def test_it_shows_every_page_and_file_to_the_resident_the_coach_and_the_coordinator(cast, login):
    document = add_document(cast.household_a, cast.alice)
    photo = add_photo(cast.household_a, cast.alice)
    pages = [messages_url(cast.household_a), documents_url(cast.household_a)]
    pages.append(photos_url(cast.household_a))
    for user in (cast.resident, cast.alice, cast.coordinator):
        client = login(user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, (user, url)
            assert "no-store" in response["Cache-Control"]
        for url in file_urls(cast.household_a, document, photo):
            response = client.get(url)
            assert response.status_code == 200, (user, url)
            b"".join(response.streaming_content)


def test_it_answers_404_to_everyone_outside_the_household(cast, login):
    document = add_document(cast.household_a, cast.alice)
    photo = add_photo(cast.household_a, cast.alice)
    urls = [messages_url(cast.household_a), documents_url(cast.household_a)]
    urls += [photos_url(cast.household_a), *file_urls(cast.household_a, document, photo)]
    for user in (cast.charlie, cast.coordinator_b, cast.municipality_staff, cast.bob):
        client = login(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
        response = client.post(messages_url(cast.household_a), {"body": "Hallo"})
        assert response.status_code == 404
        response = client.post(photos_url(cast.household_a), {"image": upload(jpeg())})
        assert response.status_code == 404
    assert not Message.objects.exists()
    assert Photo.objects.count() == 1


def test_it_sends_an_anonymous_visitor_to_the_login(cast, client):
    document = add_document(cast.household_a, cast.alice)
    photo = add_photo(cast.household_a, cast.alice)
    urls = [messages_url(cast.household_a), documents_url(cast.household_a)]
    urls += [photos_url(cast.household_a), *file_urls(cast.household_a, document, photo)]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    response = client.post(messages_url(cast.household_a), {"body": "Hallo"})
    assert response.status_code == 302
    assert not Message.objects.exists()


# Messages ---------------------------------------------------------------------------------


def test_it_sends_a_message_and_redirects(cast, login):
    client = login(cast.resident)
    response = client.post(messages_url(cast.household_a), {"body": "Wanneer komt u langs?"})
    assert response.status_code == 302
    assert response["Location"] == messages_url(cast.household_a)
    message = Message.objects.get()
    assert message.author == cast.resident and message.visibility == Visibility.SHARED
    page = login(cast.alice).get(messages_url(cast.household_a)).text
    assert "Wanneer komt u langs?" in page


def test_it_stores_a_double_submit_once(cast, login):
    client = login(cast.resident)
    for _ in range(2):
        response = client.post(messages_url(cast.household_a), {"body": "Dubbel geklikt"})
        assert response.status_code == 302
    assert Message.objects.filter(body="Dubbel geklikt").count() == 1
    # A different text is a new message.
    client.post(messages_url(cast.household_a), {"body": "Nog een vraag"})
    assert Message.objects.count() == 2


def test_it_lets_only_staff_send_staff_only_messages(cast, login):
    login(cast.resident).post(messages_url(cast.household_a), {"body": "Hoi", "staff_only": "on"})
    assert Message.objects.get(body="Hoi").visibility == Visibility.SHARED
    login(cast.alice).post(messages_url(cast.household_a), {"body": "Intern", "staff_only": "on"})
    assert Message.objects.get(body="Intern").visibility == Visibility.STAFF


def test_it_hides_staff_only_messages_from_the_resident(cast, login):
    dossier = cast.household_a.dossier
    exchange.message_send(
        dossier=dossier, author=cast.alice, body="Alleen intern", visibility=Visibility.STAFF
    )
    exchange.message_send(
        dossier=dossier, author=cast.alice, body="Voor iedereen", visibility=Visibility.SHARED
    )
    page = login(cast.resident).get(messages_url(cast.household_a)).text
    assert "Voor iedereen" in page and "Alleen intern" not in page
    assert "alleen voor medewerkers" not in page.lower()
    assert [m.body for m in exchange.message_list(dossier=dossier, viewer=cast.resident)] == [
        "Voor iedereen"
    ]
    page = login(cast.coordinator).get(messages_url(cast.household_a)).text
    assert "Alleen intern" in page


def test_it_marks_messages_read_when_the_page_is_opened(cast, login):
    dossier = cast.household_a.dossier
    exchange.message_send(dossier=dossier, author=cast.alice, body="Een", visibility="shared")
    exchange.message_send(dossier=dossier, author=cast.alice, body="Twee", visibility="shared")
    exchange.message_send(dossier=dossier, author=cast.alice, body="Drie", visibility="staff")
    assert exchange.unread_message_count(dossier=dossier, user=cast.resident) == 2
    assert exchange.unread_message_count(dossier=dossier, user=cast.alice) == 0
    assert exchange.unread_message_count(dossier=dossier, user=cast.coordinator) == 3
    page = login(cast.resident).get(messages_url(cast.household_a)).text
    assert "Nieuw" in page
    assert exchange.unread_message_count(dossier=dossier, user=cast.resident) == 0
    # Opening it again writes nothing new; the staff-only message stays unread and unseen.
    assert exchange.messages_mark_read(dossier=dossier, user=cast.resident) == 0
    assert MessageRead.objects.filter(user=cast.resident).count() == 2
    assert "Nieuw" not in login(cast.resident).get(messages_url(cast.household_a)).text


def test_it_mails_the_coach_when_the_resident_writes(
    cast, login, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://woningdossier.example.nl"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "elders.example"]
    with django_capture_on_commit_callbacks(execute=True):
        login(cast.resident).post(
            messages_url(cast.household_a), {"body": "Geheime tekst"}, HTTP_HOST="elders.example"
        )
    assert [m.to for m in mail.outbox] == [[cast.alice.email]]
    sent = mail.outbox[0]
    assert "nieuw bericht" in sent.body
    # The link is on SITE_URL, whatever Host header the request came with.
    assert sent.body.count("https://woningdossier.example.nl" + messages_url(cast.household_a)) == 1
    assert "elders.example" not in sent.body
    for private in ("Geheime tekst", "Familie Alfa", cast.household_a.dwelling.street):
        assert private not in sent.body and private not in sent.subject
    assert cast.resident.get_full_name() not in sent.body


def test_it_mails_the_residents_when_staff_write_a_shared_message(
    cast, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        exchange.message_send(
            dossier=cast.household_a.dossier,
            author=cast.coordinator,
            body="Uw offerte is binnen",
            visibility=Visibility.SHARED,
        )
    assert [m.to for m in mail.outbox] == [[cast.resident.email]]
    assert "Uw offerte is binnen" not in mail.outbox[0].body


def test_it_mails_nobody_about_a_staff_only_message(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        exchange.message_send(
            dossier=cast.household_a.dossier,
            author=cast.alice,
            body="Intern",
            visibility=Visibility.STAFF,
        )
    assert mail.outbox == []


def test_it_refuses_an_empty_message(cast, login):
    response = login(cast.resident).post(messages_url(cast.household_a), {"body": "   "})
    assert response.status_code == 200
    assert not Message.objects.exists()


# Uploads ----------------------------------------------------------------------------------


def test_it_stores_a_photo_without_exif_or_gps(cast, login, media):
    response = login(cast.alice).post(
        photos_url(cast.household_a), {"image": upload(jpeg((3000, 2000), gps=True))}
    )
    assert response.status_code == 302
    photo = Photo.objects.get()
    with default_storage.open(photo.image.name) as handle:
        stored = Image.open(handle)
        stored.load()
        assert stored.format == "JPEG"
        assert not stored.getexif()
        assert ExifTags.IFD.GPSInfo not in stored.getexif()
        assert "exif" not in stored.info and "icc_profile" not in stored.info
        assert stored.size == (2560, 1707) == (photo.width, photo.height)
    assert b"Telefoon" not in default_storage.open(photo.image.name).read()


def test_it_keeps_the_photo_upright(cast):
    # Orientation 6: the camera was turned; the stored pixels are turned instead.
    photo = exchange.photo_add(
        dossier=cast.household_a.dossier,
        taken_by=cast.alice,
        upload=upload(jpeg((600, 400), orientation=6)),
    )
    assert (photo.width, photo.height) == (400, 600)


def test_it_makes_a_thumbnail_of_at_most_400_pixels(cast, login):
    photo = add_photo(cast.household_a, cast.alice)
    with default_storage.open(photo.thumbnail.name) as handle:
        thumb = Image.open(handle)
        assert max(thumb.size) <= 400
        assert not thumb.getexif()
    response = login(cast.resident).get(
        reverse("dossier:photo-thumbnail", args=[cast.household_a.dossier.pk, photo.pk])
    )
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("inline")
    assert max(Image.open(io.BytesIO(b"".join(response.streaming_content))).size) <= 400


def test_it_judges_a_photo_by_its_content_not_its_name(cast):
    # A PNG named .jpg is a PNG: it is decoded as one and stored as a clean JPEG.
    photo = exchange.photo_add(
        dossier=cast.household_a.dossier, taken_by=cast.alice, upload=upload(png())
    )
    with default_storage.open(photo.image.name) as handle:
        assert Image.open(handle).format == "JPEG"


@pytest.mark.parametrize(
    "data",
    [
        b"Dit is gewoon tekst, geen foto.\n",
        PDF,
        b"GIF89a" + b"\x00" * 40,
    ],
    ids=["text", "pdf", "gif-header"],
)
def test_it_refuses_a_file_named_jpg_that_is_no_photo(cast, login, media, data):
    response = login(cast.alice).post(photos_url(cast.household_a), {"image": upload(data)})
    assert response.status_code == 200
    assert "Dit bestand is geen foto." in response.text
    assert not Photo.objects.exists()
    assert stored_files(media) == []


def test_it_refuses_a_gif_named_jpg(cast):
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    with pytest.raises(ValidationError):
        exchange.photo_add(
            dossier=cast.household_a.dossier, taken_by=cast.alice, upload=upload(out.getvalue())
        )


def test_it_refuses_an_oversized_photo(cast, login, media):
    data = jpeg() + b"\x00" * (uploads.MAX_PHOTO_BYTES)
    response = login(cast.alice).post(photos_url(cast.household_a), {"image": upload(data)})
    assert response.status_code == 200
    assert "Het bestand is te groot (maximaal 15 MB)." in response.text
    assert not Photo.objects.exists()
    assert stored_files(media) == []


def test_it_refuses_a_decompression_bomb(cast, login, media):
    response = login(cast.alice).post(
        photos_url(cast.household_a), {"image": upload(png_header_only(100_000, 100_000))}
    )
    assert response.status_code == 200
    assert not Photo.objects.exists()
    assert stored_files(media) == []
    # Below Pillow's own limit but above ours: refused before it is decoded.
    with pytest.raises(ValidationError) as error:
        uploads.clean_photo(upload(png_header_only(8000, 7000)))
    assert error.value.code == "too_many_pixels"


def test_it_refuses_a_photo_tagged_with_another_dossiers_component(cast, login):
    foreign = cast.household_b.dossier.components.first()
    response = login(cast.alice).post(
        photos_url(cast.household_a), {"image": upload(jpeg()), "component": foreign.pk}
    )
    assert response.status_code == 200
    assert not Photo.objects.exists()
    with pytest.raises(ValidationError):
        exchange.photo_add(
            dossier=cast.household_a.dossier,
            taken_by=cast.alice,
            upload=upload(jpeg()),
            component=foreign,
        )
    assert not Photo.objects.exists()


def test_it_tags_a_photo_with_a_component_of_this_dossier(cast, login):
    component = cast.household_a.dossier.components.get(kind="roof")
    response = login(cast.alice).post(
        photos_url(cast.household_a),
        {"image": upload(jpeg()), "component": component.pk, "caption": "Zolder"},
    )
    assert response.status_code == 302
    photo = Photo.objects.get()
    assert photo.component == component and photo.caption == "Zolder"


def test_it_stores_files_under_random_names_and_never_serves_media_url(cast, client, settings):
    document = add_document(cast.household_a, cast.alice)
    photo = add_photo(cast.household_a, cast.alice)
    for name in (document.file.name, photo.image.name, photo.thumbnail.name):
        assert "Jansen" not in name and "offerte" not in name and "foto" not in name
        assert default_storage.exists(name)
        assert client.get(f"{settings.MEDIA_URL}{name}").status_code == 404
    client.force_login(cast.resident, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(f"/media-not-public/{document.file.name}").status_code == 404


# Documents --------------------------------------------------------------------------------


def test_it_adds_a_document_through_the_page(cast, login):
    response = login(cast.resident).post(
        documents_url(cast.household_a),
        {
            "file": upload(PDF, "Offerte Jansen.pdf", "text/plain"),
            "kind": "quote",
            "title": "Offerte dak",
            "staff_only": "on",
        },
    )
    assert response.status_code == 302
    document = Document.objects.get()
    assert document.content_type == "application/pdf" and document.extension == ".pdf"
    assert document.visibility == Visibility.SHARED  # a resident cannot hide a document
    response = login(cast.alice).get(
        reverse("dossier:document-file", args=[cast.household_a.dossier.pk, document.pk])
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="document-{document.pk}.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert "sandbox" in response["Content-Security-Policy"]


def test_it_refuses_a_document_that_is_not_pdf_jpeg_or_png(cast, login, media):
    response = login(cast.alice).post(
        documents_url(cast.household_a),
        {
            "file": upload(b"<html><script>alert(1)</script>", "offerte.pdf", "application/pdf"),
            "kind": "quote",
            "title": "Offerte",
        },
    )
    assert response.status_code == 200
    assert "Dit bestand is geen PDF-, JPEG- of PNG-bestand." in response.text
    assert not Document.objects.exists()
    assert stored_files(media) == []


def test_it_strips_metadata_from_a_scanned_document(cast):
    document = add_document(cast.household_a, cast.alice, data=jpeg(gps=True))
    assert document.content_type == "image/jpeg"
    with default_storage.open(document.file.name) as handle:
        assert not Image.open(handle).getexif()


def test_it_refuses_an_oversized_document(cast):
    with pytest.raises(ValidationError) as error:
        add_document(cast.household_a, cast.alice, data=PDF + b"0" * uploads.MAX_DOCUMENT_BYTES)
    assert error.value.code == "too_large"
    assert not Document.objects.exists()


def test_it_hides_staff_only_documents_from_the_resident(cast, login):
    hidden = add_document(cast.household_a, cast.alice, visibility=Visibility.STAFF)
    hidden.title = "Interne notitie"
    hidden.save()
    client = login(cast.resident)
    assert "Interne notitie" not in client.get(documents_url(cast.household_a)).text
    url = reverse("dossier:document-file", args=[cast.household_a.dossier.pk, hidden.pk])
    assert client.get(url).status_code == 404
    assert "Interne notitie" in login(cast.alice).get(documents_url(cast.household_a)).text
    assert login(cast.alice).get(url).status_code == 200


def test_it_serves_a_document_only_within_its_own_dossier(cast, login):
    document = add_document(cast.household_b, cast.charlie)
    url = reverse("dossier:document-file", args=[cast.household_a.dossier.pk, document.pk])
    assert login(cast.alice).get(url).status_code == 404


def test_it_lets_staff_delete_a_document_and_its_file(
    cast, login, django_capture_on_commit_callbacks
):
    document = add_document(cast.household_a, cast.alice)
    name = document.file.name
    url = reverse("dossier:document-delete", args=[cast.household_a.dossier.pk, document.pk])
    assert login(cast.resident).post(url).status_code == 404
    assert login(cast.charlie).post(url).status_code == 404
    assert Document.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = login(cast.alice).post(url)
    assert response.status_code == 302
    assert not Document.objects.exists()
    assert not default_storage.exists(name)


def test_it_lets_staff_delete_a_photo_and_its_files(
    cast, login, django_capture_on_commit_callbacks
):
    photo = add_photo(cast.household_a, cast.alice)
    names = [photo.image.name, photo.thumbnail.name]
    url = reverse("dossier:photo-delete", args=[cast.household_a.dossier.pk, photo.pk])
    assert login(cast.resident).post(url).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert login(cast.coordinator).post(url).status_code == 302
    assert not Photo.objects.exists()
    assert not any(default_storage.exists(n) for n in names)


def staff_only_photo(cast) -> Photo:
    return add_photo(cast.household_a, cast.alice, caption="Scheur", visibility=Visibility.STAFF)


def photo_file_urls(household, photo: Photo) -> list[str]:
    pk = household.dossier.pk
    return [
        reverse("dossier:photo-image", args=[pk, photo.pk]),
        reverse("dossier:photo-thumbnail", args=[pk, photo.pk]),
    ]


def test_it_lets_staff_keep_a_photo_to_staff_through_the_page(cast, login):
    response = login(cast.alice).post(
        photos_url(cast.household_a), {"image": upload(jpeg()), "staff_only": "on"}
    )
    assert response.status_code == 302
    assert Photo.objects.get().visibility == Visibility.STAFF


@pytest.mark.parametrize("who", ["alice", "coordinator"])
def test_it_shows_a_staff_only_photo_to_staff(cast, login, who):
    photo = staff_only_photo(cast)
    client = login(getattr(cast, who))
    page = client.get(photos_url(cast.household_a)).text
    assert "Scheur" in page and "Alleen voor medewerkers" in page
    for url in photo_file_urls(cast.household_a, photo):
        response = client.get(url)
        assert response.status_code == 200, url
        b"".join(response.streaming_content)


def test_it_hides_a_staff_only_photo_from_the_resident_in_lists_and_by_url(cast, login):
    photo = staff_only_photo(cast)
    shared = add_photo(cast.household_a, cast.alice, caption="Gevel")
    client = login(cast.resident)
    page = client.get(photos_url(cast.household_a)).text
    assert "Gevel" in page and "Scheur" not in page
    for url in photo_file_urls(cast.household_a, photo):
        assert client.get(url).status_code == 404, url
    for url in photo_file_urls(cast.household_a, shared):
        assert client.get(url).status_code == 200, url
    dossier_page = selectors.dossier_page(viewer=cast.resident, pk=cast.household_a.dossier.pk)
    assert [p.pk for p in dossier_page.photos] == [shared.pk]
    staff_page = selectors.dossier_page(viewer=cast.alice, pk=cast.household_a.dossier.pk)
    assert {p.pk for p in staff_page.photos} == {photo.pk, shared.pk}


@pytest.mark.parametrize("who", ["charlie", "coordinator_b", "bob"])
def test_it_answers_404_for_a_staff_only_photo_to_other_staff(cast, login, who):
    photo = staff_only_photo(cast)
    client = login(getattr(cast, who))
    assert client.get(photos_url(cast.household_a)).status_code == 404
    for url in photo_file_urls(cast.household_a, photo):
        assert client.get(url).status_code == 404, url


def test_it_sends_an_anonymous_visitor_to_the_login_for_a_staff_only_photo(cast, client):
    photo = staff_only_photo(cast)
    for url in photo_file_urls(cast.household_a, photo):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_it_shares_every_photo_a_resident_takes(cast, login):
    client = login(cast.resident)
    assert "staff_only" not in client.get(photos_url(cast.household_a)).text
    client.post(photos_url(cast.household_a), {"image": upload(jpeg()), "staff_only": "on"})
    add_photo(cast.household_a, cast.resident, visibility=Visibility.STAFF)
    assert list(Photo.objects.values_list("visibility", flat=True)) == ["shared", "shared"]


def fail_after_the_service(monkeypatch) -> None:
    """Make the upload views fail after the service stored the file and its row."""

    def fail(*args, **kwargs):
        raise RuntimeError("the request fails after the upload")

    monkeypatch.setattr(exchange_views.messages, "success", fail)


@pytest.mark.django_db(transaction=True)
def test_it_deletes_the_files_of_a_request_that_rolls_back(cast, login, media, monkeypatch):
    fail_after_the_service(monkeypatch)
    client = login(cast.alice)
    with pytest.raises(RuntimeError):
        client.post(photos_url(cast.household_a), {"image": upload(jpeg())})
    pdf = upload(PDF, "offerte.pdf", "application/pdf")
    with pytest.raises(RuntimeError):
        client.post(
            documents_url(cast.household_a), {"file": pdf, "kind": "quote", "title": "Offerte"}
        )
    # ATOMIC_REQUESTS rolled both rows back; their files must not stay behind.
    assert not Photo.objects.exists() and not Document.objects.exists()
    assert stored_files(media) == []


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_files_of_a_request_that_commits(cast, login, media):
    response = login(cast.alice).post(photos_url(cast.household_a), {"image": upload(jpeg())})
    assert response.status_code == 302
    photo = Photo.objects.get()
    assert sorted(stored_files(media)) == sorted(
        media / name for name in (photo.image.name, photo.thumbnail.name)
    )

    # An earlier on_commit callback that raises stops the later ones, including the one
    # that marks the files as committed: the database still decides that they stay.
    def broken() -> None:
        raise RuntimeError("a callback registered earlier fails")

    with pytest.raises(RuntimeError), transaction.atomic():
        transaction.on_commit(broken)
        other = add_photo(cast.household_a, cast.alice)
    storage.delete_rolled_back_files()
    assert Photo.objects.filter(pk=other.pk).exists()
    assert default_storage.exists(other.image.name)


def test_it_deletes_the_files_of_a_rolled_back_savepoint_at_the_end_of_the_request(
    cast, login, media, monkeypatch
):
    # Inside the test's transaction the request's is a savepoint; rolling it back is
    # enough to know the row is gone for good.
    fail_after_the_service(monkeypatch)
    with pytest.raises(RuntimeError):
        login(cast.alice).post(photos_url(cast.household_a), {"image": upload(jpeg())})
    assert not Photo.objects.exists()
    assert stored_files(media) == []


def test_it_keeps_the_files_of_a_row_whose_transaction_is_still_open(cast, media):
    photo = add_photo(cast.household_a, cast.alice)
    # A request ends while the caller's transaction (here the test's) is still open.
    storage.delete_rolled_back_files()
    assert default_storage.exists(photo.image.name)
    assert default_storage.exists(photo.thumbnail.name)
    with pytest.raises(RuntimeError), transaction.atomic():
        other = add_photo(cast.household_a, cast.alice)
        raise RuntimeError("the caller fails after the upload")
    storage.delete_rolled_back_files()
    assert not default_storage.exists(other.image.name)
    assert not default_storage.exists(other.thumbnail.name)
    assert default_storage.exists(photo.image.name)


def test_it_offers_the_camera_on_the_photo_form(cast, login):
    page = login(cast.alice).get(photos_url(cast.household_a)).text
    assert 'accept="image/*"' in page and 'capture="environment"' in page
    assert 'enctype="multipart/form-data"' in page


def test_it_routes_the_exchange_pages_to_their_own_views():
    assert resolve("/dossiers/1/berichten/").func is exchange_views.dossier_messages
    assert resolve("/dossiers/1/documenten/").func is exchange_views.dossier_documents
    assert resolve("/dossiers/1/fotos/").func is exchange_views.dossier_photos


def test_it_enqueues_one_notification_per_person_with_ids_only(
    cast, django_capture_on_commit_callbacks
):
    second = builders.make_user("tweede@example.org")
    cast.household_a.residents.add(second)
    with (
        mock.patch.object(tasks.message_notification_send, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = exchange.message_send(
            dossier=cast.household_a.dossier,
            author=cast.alice,
            body="Uw offerte is binnen",
            visibility=Visibility.SHARED,
        )
    calls = sorted(tuple(c.args[0]) for c in apply_async.call_args_list)
    assert calls == sorted([(message.pk, cast.resident.pk), (message.pk, second.pk)])
    for call in apply_async.call_args_list:
        assert all(isinstance(arg, int) for arg in call.args[0])


def test_a_late_notification_goes_only_to_someone_who_still_has_the_dossier(cast, mailoutbox):
    message = Message.objects.create(
        dossier=cast.household_a.dossier, author=cast.resident, body="Vraag"
    )
    cast.household_a.assigned_coach = cast.bob
    cast.household_a.save()

    assert not exchange.message_notification_send(message_id=message.pk, user_id=cast.alice.pk)
    assert exchange.message_notification_send(message_id=message.pk, user_id=cast.bob.pk)
    assert [m.to for m in mailoutbox] == [[cast.bob.email]]
