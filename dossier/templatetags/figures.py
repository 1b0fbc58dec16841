"""Show a calculated figure in Dutch number format, unfolding to its formula and inputs."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from dossier.calculations import Figure, Input

register = template.Library()


def figure_text(figure: Figure) -> str:
    """ "€ 2.350", "412 m³", "6,2 jaar", "E"."""
    value = figure.value
    if value is None:
        return _("none") if figure.unit == "years" else _("not known")
    if isinstance(value, str):
        return value
    if figure.unit == "€":
        return "€ " + number_format(round(value), 0, force_grouping=True)
    if figure.unit == "years":
        return _("%(years)s years") % {"years": number_format(value, 1)}
    decimals = 2 if figure.unit == "" else 0
    text = number_format(round(value, decimals), decimals, force_grouping=True)
    return f"{text} {figure.unit}".strip()


@register.filter
def figure_value(value: Figure | dict[str, Any]) -> str:
    """A figure, or a figure kept in a report as JSON, as text: "€ 2.350", "6,2 jaar"."""
    if isinstance(value, dict):
        from dossier.advice import figure_from_record

        value = figure_from_record(value)
    return figure_text(value)


@register.filter
def input_text(value: Input | dict[str, Any]) -> str:
    """An input's value in Dutch notation with its unit: "€ 1.460", "0,97", "2.884 K·day".

    Takes an input of a figure, or one kept in a report as JSON.
    """
    if isinstance(value, dict):
        value = Input(**value)
    raw = value.value
    if not isinstance(raw, (int, float)):
        return str(raw)
    decimals = 0 if float(raw).is_integer() else (1 if abs(raw) >= 100 else 2)
    text = number_format(raw, decimals, force_grouping=True)
    if value.unit == "€":
        return f"€ {text}"
    return f"{text} {value.unit}".strip()


@register.inclusion_tag("dossier/partials/figure.html")
def figure(value: Figure, suffix: str = "") -> dict[str, Any]:
    text = figure_text(value)
    return {"figure": value, "text": f"{text} ({suffix})" if suffix else text}
