"""Turning report HTML into a PDF safely.

Report HTML holds text residents and coaches typed. Django escapes it, but any HTML
that reaches WeasyPrint can still name URLs (`<img>`, `<link rel=attachment>`, CSS
`url()`, SVG), and WeasyPrint's default fetcher follows `file:` and remote URLs and
embeds attachments. The fetcher here serves files under STATIC_ROOT only, through a
base URL that can never resolve, and refuses everything else (WeasyPrint then logs the
refusal and leaves the resource out).
"""

from __future__ import annotations

import base64
import logging
from datetime import date
from functools import cache
from mimetypes import guess_type
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

if TYPE_CHECKING:
    from accounts.models import Organisation

logger = logging.getLogger(__name__)

# A synthetic origin: ".invalid" never resolves (RFC 2606), so nothing can leave the host.
BASE_URL = "https://pdf.invalid/"
STATIC_PREFIX = BASE_URL + "static/"


class ResourceRefused(ValueError):
    """A report asked for a resource outside STATIC_ROOT."""


class StaticOnlyFetcher(URLFetcher):
    def __init__(self, static_root: Path | None = None) -> None:
        super().__init__(allow_redirects=False)
        self.static_root = Path(static_root or settings.STATIC_ROOT).resolve()

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith(STATIC_PREFIX):
            relative = url.removeprefix(STATIC_PREFIX).split("?", 1)[0].split("#", 1)[0]
            path = (self.static_root / relative).resolve()
            # resolve() has already followed "../" and symlinks: what is left must still
            # be inside STATIC_ROOT.
            if path.is_relative_to(self.static_root) and path.is_file():
                mime = guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
        # The URL itself may carry personal data (a typed link); log only its scheme.
        logger.warning("report resource refused (%s)", url.split(":", 1)[0])
        raise ResourceRefused("resource outside STATIC_ROOT refused")


def render_pdf(html: str, *, stylesheet: str = "", static_root: Path | None = None) -> bytes:
    """A tagged PDF/UA-1 document of html, with only STATIC_ROOT files as resources."""
    return render_pdf_pages(html, stylesheet=stylesheet, static_root=static_root)[0]


def render_pdf_pages(
    html: str, *, stylesheet: str = "", static_root: Path | None = None
) -> tuple[bytes, int]:
    """As render_pdf, with the number of pages the document came to."""
    document = HTML(
        string=html,
        base_url=BASE_URL,
        url_fetcher=StaticOnlyFetcher(static_root),
    )
    # CSS as a string, never as a URL: before 70.0 stylesheets= used the default fetcher.
    stylesheets = [CSS(string=stylesheet, base_url=BASE_URL)] if stylesheet else []
    options = {"stylesheets": stylesheets, "pdf_variant": "pdf/ua-1"}
    rendered = document.render(**options)
    return rendered.write_pdf(**options), len(rendered.pages)


# The advice report ----------------------------------------------------------------------

# Logos larger than this are left out rather than making every report heavy.
MAX_LOGO_BYTES = 512 * 1024


@cache
def stylesheet(name: str) -> str:
    # Read from the source static files, so the report needs no collectstatic to look right.
    found = finders.find(name)
    if not found:
        raise FileNotFoundError(name)
    return Path(found).read_text(encoding="utf-8")


def _logo_data_uri(organisation: Organisation) -> str:
    """The organisation's logo inline: an uploaded file is never a URL the fetcher follows."""
    logo = organisation.logo
    if not logo:
        return ""
    try:
        if logo.size > MAX_LOGO_BYTES:
            return ""
        with logo.open("rb") as handle:
            data = handle.read()
    except OSError:
        logger.warning("logo of organisation %s could not be read", organisation.pk)
        return ""
    mime = guess_type(logo.name)[0] or ""
    if mime not in ("image/png", "image/jpeg", "image/gif", "image/webp"):
        # An SVG logo could reach out to URLs of its own; only raster images go in.
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def advice_report_context(
    *, figures: dict[str, Any], organisation: Organisation, number: int, summary: str = ""
) -> dict[str, Any]:
    from dossier import report_chart

    return {
        "figures": figures,
        "made_on": date.fromisoformat(figures["made_on"]),
        "valid_from": date.fromisoformat(figures["parameters"]["valid_from"]),
        "summary": summary,
        "organisation": organisation,
        "logo": _logo_data_uri(organisation),
        "number": number,
        "chart": report_chart.savings_chart(figures["advised"]),
        "site_url": settings.SITE_URL,
    }


def advice_report_html(
    *, figures: dict[str, Any], organisation: Organisation, number: int, summary: str = ""
) -> str:
    """The report as HTML, in the interface language, from the figures it keeps."""
    context = advice_report_context(
        figures=figures, organisation=organisation, number=number, summary=summary
    )
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string("reports/advice.html", context)


def advice_report_pdf(
    *, figures: dict[str, Any], organisation: Organisation, number: int, summary: str = ""
) -> tuple[bytes, int]:
    """The report as a PDF and its number of pages."""
    html = advice_report_html(
        figures=figures, organisation=organisation, number=number, summary=summary
    )
    return render_pdf_pages(html, stylesheet=stylesheet("css/report.css"))
