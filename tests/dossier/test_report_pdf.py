"""The report PDF: resources come from STATIC_ROOT only, nothing is embedded, text is escaped."""

from __future__ import annotations

import contextlib
import zlib
from pathlib import Path

import pytest
from django.template import Context, Template

from dossier import reports


@pytest.fixture
def static_root(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "img").mkdir(parents=True)
    # A 1×1 PNG: a resource the report may use.
    (root / "img" / "dot.png").write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
        )
    )
    return root


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT")
    return path


def streams(pdf: bytes) -> bytes:
    """The PDF with its compressed streams inflated, so their contents can be searched."""
    out = [pdf]
    start = 0
    while (start := pdf.find(b"stream", start)) != -1:
        begin = pdf.find(b"\n", start) + 1
        end = pdf.find(b"endstream", begin)
        with contextlib.suppress(zlib.error):
            out.append(zlib.decompress(pdf[begin:end].strip(b"\r\n")))
        start = end + len(b"endstream")
    return b"\n".join(out)


def test_it_serves_files_under_static_root(static_root):
    fetcher = reports.StaticOnlyFetcher(static_root)

    response = fetcher.fetch(reports.STATIC_PREFIX + "img/dot.png")

    assert response.read().startswith(b"\x89PNG")
    assert response.content_type == "image/png"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "https://example.org/logo.png",
        reports.STATIC_PREFIX + "../secret.txt",
        reports.STATIC_PREFIX + "img/../../secret.txt",
        reports.STATIC_PREFIX + "img/missing.png",
    ],
)
def test_it_refuses_everything_outside_static_root(static_root, secret, url):
    fetcher = reports.StaticOnlyFetcher(static_root)

    with pytest.raises(reports.ResourceRefused):
        fetcher.fetch(url.replace("/etc/passwd", str(secret)))


def test_a_pdf_embeds_no_file_and_loads_no_outside_resource(static_root, secret, caplog):
    html = f"""<!doctype html><html lang="nl"><head><title>Rapport</title>
      <link rel="attachment" href="file://{secret}">
      <link rel="attachment" href="{reports.STATIC_PREFIX}../secret.txt">
      <link rel="stylesheet" href="file://{secret}">
      <style>body {{ background: url("file://{secret}"); }}</style></head>
      <body><h1>Advies</h1><img src="file://{secret}" alt="x">
      <img src="http://169.254.169.254/x.png" alt="y">
      <img src="static/img/dot.png" alt="stip"></body></html>"""

    pdf = reports.render_pdf(html, static_root=static_root)

    assert pdf.startswith(b"%PDF")
    assert b"/EmbeddedFile" not in pdf
    assert b"TOP-SECRET-CONTENT" not in streams(pdf)
    # The one allowed resource made it in as an image.
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf
    # Our refusals log the scheme, not the URL (which could hold typed text).
    ours = [r.getMessage() for r in caplog.records if r.name == "dossier.reports"]
    assert ours and not any(str(secret) in message for message in ours)


def test_the_pdf_is_tagged_for_accessibility(static_root):
    pdf = reports.render_pdf(
        '<html lang="nl"><head><title>Advies</title></head><body><h1>Advies</h1></body></html>',
        static_root=static_root,
    )

    assert b"/StructTreeRoot" in streams(pdf)
    assert b"pdfuaid" in streams(pdf)


def test_user_text_is_escaped_in_the_pdf(static_root, secret):
    note = f'<img src="file://{secret}"><script>alert(1)</script>'
    html = Template(
        '<html lang="nl"><head><title>t</title></head><body><p>{{ note }}</p></body></html>'
    ).render(Context({"note": note}))

    pdf = reports.render_pdf(html, static_root=static_root)

    text = streams(pdf)
    assert b"TOP-SECRET-CONTENT" not in text
    assert b"/Subtype /Image" not in pdf and b"/Subtype/Image" not in pdf
