"""Markup that must come back as text: the payloads of the XSS tests and their checks.

Every poisoned value ends in a marker of its own ("ZqHouseholdNameZq"), so a test can
tell that a page really showed the value (and so that the absence of raw markup means
something) and which field a leak came from.
"""

from __future__ import annotations

import re

# A value used whole as a link would start with this scheme.
LINK = "javascript:alert(1)//"
SCRIPT = "<script>alert(1)</script>"
# Breaks out of a quoted attribute first, then adds an element with a handler.
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
# Django and Jinja syntax: evaluated, it would read 49.
TEMPLATE = "{{7*7}}"


def payload(marker: str, max_length: int | None = None) -> str:
    """The longest payload that fits the field, always ending in the marker."""
    candidates = (
        f"{LINK}{SCRIPT}{ATTRIBUTE}{TEMPLATE}{marker}",
        f"{SCRIPT}{ATTRIBUTE}{marker}",
        f"{SCRIPT}{marker}",
        f"<b>{marker}</b>",
    )
    for candidate in candidates:
        if max_length is None or len(candidate) <= max_length:
            return candidate
    raise ValueError(f"no payload fits {max_length} characters")


def marker(name: str) -> str:
    return f"Zq{name}Zq"


# What only unescaped user input produces in an HTML page. The product's own markup
# never contains these: no inline handlers (the CSP forbids them) and no javascript: links.
RAW_MARKUP = (
    re.compile(r"<script>alert\(1\)"),
    re.compile(r"<img src=x onerror", re.IGNORECASE),
    re.compile(r"<b>Zq"),
    re.compile(r"""(href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.IGNORECASE),
    # A template language that evaluated {{7*7}} in front of a marker.
    re.compile(r"49Zq"),
)


def raw_markup_in(text: str) -> list[str]:
    """The pieces of unescaped payload in an HTML text, with some context for the report."""
    found = []
    for pattern in RAW_MARKUP:
        for match in pattern.finditer(text):
            found.append(text[max(match.start() - 60, 0) : match.end() + 60])
    return found
