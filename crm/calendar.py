"""A visit as an iCalendar (.ics) file, for the coach's own calendar (RFC 5545)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from crm.models import Visit


def ics_text(value: str) -> str:
    """A TEXT value escaped as RFC 5545 section 3.3.11 asks."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def ics_fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 section 3.1), never inside a character."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        # Continuation lines start with a space, which counts towards their 75 octets.
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def ics_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def visit_calendar(visit: Visit, *, now: dt.datetime | None = None) -> bytes:
    """One visit as an iCalendar file, for the coach's own calendar."""
    now = now or timezone.now()
    dwelling = visit.case.household.dwelling
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    link = settings.SITE_URL + reverse("crm:case-detail", kwargs={"pk": visit.case_id})
    end = visit.planned_start + dt.timedelta(minutes=visit.duration_minutes)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Woningdossier//Bezoeken//NL",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:visit-{visit.pk}@{domain}",
        f"DTSTAMP:{ics_time(now)}",
        f"DTSTART:{ics_time(visit.planned_start)}",
        f"DTEND:{ics_time(end)}",
        "SUMMARY:"
        + ics_text(_("Home visit: %(household)s") % {"household": visit.case.household.name}),
        f"LOCATION:{ics_text(str(dwelling))}",
        f"DESCRIPTION:{ics_text(link)}",
        f"URL:{link}",
        "STATUS:CONFIRMED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(ics_fold(line) for line in lines) + "\r\n").encode()
