"""JSON from a request is input like any other: what cannot be read is a 400, never a 500.

Python's JSON decoder raises RecursionError (not ValueError) on deeply nested input, and
50,000 opening brackets would otherwise escape as a server error with a traceback. And
anything a little less deep that does parse could still trip code that walks it later
(serializers, json.dumps when stored). So every JSON body is read here, once:

- `JsonParser` for the API (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES);
- `request_json(request)` for a plain Django view that reads a JSON body.

Both refuse nesting deeper than `MAX_DEPTH` levels with a message. A body larger than
DATA_UPLOAD_MAX_MEMORY_SIZE is refused by Django before it is read (`config.errors`).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Far more than any request of ours needs (a dossier section is three levels deep), far
# less than the interpreter's recursion limit.
MAX_DEPTH = 64


class JsonInputError(ValueError):
    """The body is not JSON we accept; the message can be shown to the sender."""


def too_deep_message() -> str:
    return _("The JSON in the request is nested too deeply (at most %(depth)s levels).") % {
        "depth": MAX_DEPTH
    }


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether lists and objects nest deeper than limit (iterative: no recursion here)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """json.loads that raises JsonInputError for invalid or too deeply nested input."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JsonInputError(too_deep_message()) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        message = _("The request is not valid JSON: %(error)s") % {"error": exc}
        raise JsonInputError(message) from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise JsonInputError(too_deep_message())
    return value


def request_json(request: HttpRequest) -> Any:
    """The JSON body of a plain Django view's request; BadRequest (400) if it is not usable.

    Reading request.body raises RequestDataTooBig beyond DATA_UPLOAD_MAX_MEMORY_SIZE,
    which config.errors answers with 413.
    """
    try:
        return loads(request.body.decode(request.encoding or settings.DEFAULT_CHARSET))
    except (JsonInputError, UnicodeDecodeError, LookupError) as exc:
        raise BadRequest(str(exc)) from None


class JsonParser(JSONParser):
    """DRF's JSON parser, with the nesting limit and RecursionError as a ParseError (400).

    The parent checks the charset, decodes, and turns invalid JSON into a ParseError.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None):
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep_message()) from None
        if _depth_exceeds(value, MAX_DEPTH):
            raise ParseError(too_deep_message())
        return value
