"""Dutch address rules: postcode, house number, letter and addition (DOMAIN.md)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

POSTCODE_RE = re.compile(r"^[1-9][0-9]{3}[A-Z]{2}$")
# PostNL never issues these letter pairs.
UNUSED_POSTCODE_LETTERS = frozenset({"SA", "SD", "SS"})
HOUSE_NUMBER_MAX = 99999
HOUSE_LETTER_RE = re.compile(r"^[A-Z]?$")
ADDITION_RE = re.compile(r"^[A-Z0-9]{0,4}$")


def normalise_postcode(value: str) -> str:
    """'1234 ab' and '1234ab' become '1234AB'; the result is not yet validated."""
    return re.sub(r"\s+", "", value or "").upper()


def is_valid_postcode(value: str) -> bool:
    return bool(POSTCODE_RE.match(value)) and value[4:] not in UNUSED_POSTCODE_LETTERS


def validate_postcode(value: str) -> None:
    if not is_valid_postcode(normalise_postcode(value)):
        raise ValidationError(
            _(
                "Enter a valid postcode: four digits, the first not 0, and two letters, "
                "for example 3731 AB."
            ),
            code="invalid_postcode",
        )


def normalise_addition(value: str) -> str:
    return re.sub(r"[\s\-]+", "", value or "").upper()


def validate_house_letter(value: str) -> None:
    if not HOUSE_LETTER_RE.match(value.upper()):
        raise ValidationError(_("A house letter is a single letter."), code="invalid_letter")


def validate_addition(value: str) -> None:
    if not ADDITION_RE.match(normalise_addition(value)):
        raise ValidationError(
            _("An addition has at most four letters or digits."), code="invalid_addition"
        )


class _NormalisedCharField(models.CharField):
    """A CharField that stores the canonical spelling, before length and format checks run."""

    def normalise(self, value: str) -> str:
        raise NotImplementedError

    def to_python(self, value: object) -> str | None:
        value = super().to_python(value)
        return None if value is None else self.normalise(value)

    def get_prep_value(self, value: object) -> object:
        value = super().get_prep_value(value)
        return self.normalise(value) if isinstance(value, str) else value


class PostcodeField(_NormalisedCharField):
    def normalise(self, value: str) -> str:
        return normalise_postcode(value)


class HouseLetterField(_NormalisedCharField):
    def normalise(self, value: str) -> str:
        return value.strip().upper()


class AdditionField(_NormalisedCharField):
    def normalise(self, value: str) -> str:
        return normalise_addition(value)
