"""What every request must be before a view reads it, checked once for all views.

- The URL holds no control or bidi character: in the path it is a 404 (no page has one), in
  the query string a 400 that says why. Form fields are checked by the forms (`PanelForm`).
- No header holds a control character but tab (a NUL in the User-Agent would reach the audit
  log, and PostgreSQL refuses it): a 400. Header bytes are read as Latin-1, so the C1 range is
  left alone there: it is how the bytes of UTF-8 text arrive.
- `?page=`, the one paging parameter of every list, is a page number: 1 to 999999, in ASCII
  digits, or the page is a 404.
- An ID in a path (`<int:…>`) fits the database's integer columns, or the page is a 404.

The request body's size is bounded by `MAX_CONTENT_LENGTH` (werkzeug, in config.py).
"""

import re

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

from panel.forms import HIDDEN_CHARACTER_MESSAGE, has_hidden_character
from panel.refusals import RefusedInput

#: What no header value may hold (RFC 9110 allows tab, and obs-text 0x80-0xFF).
HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: PostgreSQL's `integer`, the type of every ID column; a larger number overflows there.
LARGEST_ID = 2**31 - 1
#: A page number; far past any list's end, yet its offset stays well within a bigint.
PAGE_NUMBER = re.compile(r"[0-9]{1,6}")


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` in a route, no larger than an ID column can hold."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)


def _check_request() -> None:
    if has_hidden_character(request.path):
        abort(404)
    if any(
        has_hidden_character(key) or has_hidden_character(value)
        for key, value in request.args.items(multi=True)
    ):
        raise RefusedInput(HIDDEN_CHARACTER_MESSAGE)
    if any(HEADER_CONTROL.search(value) for _, value in request.headers.items()):
        raise RefusedInput(HIDDEN_CHARACTER_MESSAGE)
    page = request.args.get("page")
    if page is not None and not (PAGE_NUMBER.fullmatch(page) and int(page) >= 1):
        abort(404)


def register_request_guards(app: Flask) -> None:
    """Before the views are registered: their routes take the converter when they are added."""
    app.url_map.converters["int"] = DatabaseIdConverter
    app.before_request(_check_request)
