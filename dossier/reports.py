"""Turning report HTML into a PDF safely.

Report HTML holds text residents and coaches typed. Django escapes it, but any HTML
that reaches WeasyPrint can still name URLs (`<img>`, `<link rel=attachment>`, CSS
`url()`, SVG), and WeasyPrint's default fetcher follows `file:` and remote URLs and
embeds attachments. The fetcher here serves files under STATIC_ROOT only, through a
base URL that can never resolve, and refuses everything else (WeasyPrint then logs the
refusal and leaves the resource out).
"""

from __future__ import annotations

import logging
from mimetypes import guess_type
from pathlib import Path

from django.conf import settings
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

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
    document = HTML(
        string=html,
        base_url=BASE_URL,
        url_fetcher=StaticOnlyFetcher(static_root),
    )
    # CSS as a string, never as a URL: before 70.0 stylesheets= used the default fetcher.
    stylesheets = [CSS(string=stylesheet, base_url=BASE_URL)] if stylesheet else []
    return document.write_pdf(stylesheets=stylesheets, pdf_variant="pdf/ua-1")
