"""Checking uploaded files by their content, and re-encoding photos without metadata.

A browser's file name and content type are whatever the sender says they are, so both
are ignored: an image is whatever Pillow can decode, a PDF is whatever starts with the
PDF signature. Photos are decoded and encoded again, which drops EXIF (GPS position,
camera serial number, time), XMP and ICC data and any bytes hidden after the image.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps

MB = 1024 * 1024
MAX_PHOTO_BYTES = 15 * MB
MAX_DOCUMENT_BYTES = 20 * MB
# A phone camera of 50 megapixels fits; a tiny file that unpacks into gigabytes of
# pixels (a decompression bomb) does not.
MAX_PIXELS = 50_000_000
MAX_PHOTO_SIDE = 2560
THUMBNAIL_SIDE = 400
JPEG_QUALITY = 85

# MPO is how Pillow names the JPEGs many phones write (a JPEG with a second frame).
IMAGE_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})
PDF_SIGNATURE = b"%PDF-"

# Pillow raises any of these for a file that is not a (whole) image.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError)


@dataclass(frozen=True)
class CleanImage:
    """A photo re-encoded as JPEG without metadata, with its thumbnail."""

    content: bytes
    width: int
    height: int
    thumbnail: bytes


@dataclass(frozen=True)
class CleanDocument:
    content: bytes
    content_type: str
    extension: str


def _read(upload: IO[bytes], limit: int, message: str) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(message, code="too_large")
    upload.seek(0)
    # Read one byte more than allowed, so a wrong `size` cannot let a larger file through.
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(message, code="too_large")
    if not data:
        raise ValidationError(_("The file is empty."), code="empty")
    return data


def _too_large_message(limit: int) -> str:
    return _("The file is too large (at most %(size)d MB).") % {"size": limit // MB}


def _open_image(data: bytes, not_an_image: str) -> Image.Image:
    """Decode the whole image, refusing anything that is not a complete, modest image."""
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
            if probe.format not in IMAGE_FORMATS:
                raise ValidationError(not_an_image, code="not_an_image")
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise ValidationError(_("The image has too many pixels."), code="too_many_pixels")
            probe.verify()
            # verify() leaves the image unusable; decoding it again catches truncated data.
            image = Image.open(io.BytesIO(data))
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValidationError(
                _("The image has too many pixels."), code="too_many_pixels"
            ) from exc
        except _DECODE_ERRORS as exc:
            raise ValidationError(not_an_image, code="not_an_image") from exc
    return image


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert to plain RGB, applying an embedded colour profile before it is dropped."""
    icc = image.info.get("icc_profile")
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("RGB") if image.mode != "RGB" else image
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # A broken profile: keep the pixels as they are.
    return image


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # A fresh info dict and explicit empty metadata: nothing from the original survives.
    image.info = {}
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, exif=b"")
    return out.getvalue()


def _clean_image(image: Image.Image, *, max_side: int | None) -> Image.Image:
    # Turn the pixels upright before the EXIF orientation tag is thrown away.
    upright = ImageOps.exif_transpose(image)
    clean = _to_srgb(upright)
    if clean is image:
        clean = clean.copy()
    if max_side is not None:
        clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return clean


def clean_photo(upload: IO[bytes]) -> CleanImage:
    """A JPEG, PNG or WebP photo, upright, at most 2560 px, without metadata; or ValidationError."""
    data = _read(upload, MAX_PHOTO_BYTES, _too_large_message(MAX_PHOTO_BYTES))
    image = _open_image(data, _("This file is not a photo."))
    clean = _clean_image(image, max_side=MAX_PHOTO_SIDE)
    thumb = clean.copy()
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    return CleanImage(
        content=_jpeg(clean), width=clean.width, height=clean.height, thumbnail=_jpeg(thumb)
    )


def clean_document(upload: IO[bytes]) -> CleanDocument:
    """A PDF as it is, or a JPEG/PNG scan re-encoded without metadata; or ValidationError."""
    data = _read(upload, MAX_DOCUMENT_BYTES, _too_large_message(MAX_DOCUMENT_BYTES))
    if data.startswith(PDF_SIGNATURE):
        return CleanDocument(content=data, content_type="application/pdf", extension=".pdf")
    not_allowed = _("This file is not a PDF, JPEG or PNG file.")
    image = _open_image(data, not_allowed)
    if image.format == "WEBP":
        raise ValidationError(not_allowed, code="not_allowed")
    if image.format == "PNG":
        # A scanned letter stays a lossless PNG; re-encoding still drops its metadata.
        clean = _clean_image(image, max_side=None)
        out = io.BytesIO()
        clean.info = {}
        clean.save(out, format="PNG", optimize=True)
        return CleanDocument(content=out.getvalue(), content_type="image/png", extension=".png")
    clean = _clean_image(image, max_side=None)
    return CleanDocument(content=_jpeg(clean), content_type="image/jpeg", extension=".jpg")
