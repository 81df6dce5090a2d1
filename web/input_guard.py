"""The one place where request input is checked before any view reads it.

Refused here, with a 4xx JSON error (or page) in the reader's language and before anything
is stored:

* URLs longer than ``MAX_URL_BYTES`` (414; gunicorn's own request-line limit is lifted so
  the answer is ours, see ``cli/run.py``);
* NUL characters anywhere in the path, the query string, form fields, multipart field
  and file names (when the form is first parsed) and JSON bodies (PostgreSQL text cannot
  hold them: they used to become 500s);
* JSON bodies nested deeper than ``MAX_JSON_DEPTH`` (100,000 levels used to raise
  RecursionError through ``request.get_json``);
* whole numbers in the path beyond a 32-bit integer column (``/incidents/2147483648``, 400).

JSON bodies are parsed once here (``PolisRequest.get_json``), so every view's reader gets
the checked value; JSON text in a multipart part goes through :func:`parse_json_text`.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Request, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestURITooLarge

from core.errors import PolisError

#: Longest path + query string accepted (bytes, percent-encoded as sent).
MAX_URL_BYTES = 8 * 1024
#: Deepest JSON nesting accepted (objects and arrays).
MAX_JSON_DEPTH = 64
#: Largest value of an integer in a URL path (the range of PostgreSQL's integer).
MAX_PATH_INT = 2**31 - 1


class MalformedInput(PolisError):
    """The request cannot be read at all (HTTP 400)."""

    code = "malformed_input"


class NulCharacter(MalformedInput):
    """A NUL character in a text the request sent."""

    code = "nul_character"


def _nul_refused(where: str) -> NulCharacter:
    return NulCharacter(
        _("%(where)s contains a NUL character (\\u0000); remove it and send again.", where=where),
        where=where,
    )


def _too_deep() -> MalformedInput:
    return MalformedInput(_("The JSON body is nested more than %(depth)d levels deep.", depth=MAX_JSON_DEPTH))


def check_json_value(value: Any, where: str = "JSON body") -> Any:
    """Refuse NUL characters in any string (key or value) and nesting deeper than the limit.

    Iterative, so a deep value cannot exhaust the stack here either.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise _nul_refused(where)
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep()
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and "\x00" in key:
                        raise _nul_refused(where)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
    return value


def parse_json_text(text: str | bytes, where: str) -> Any:
    """``json.loads`` for JSON sent inside a form part: ValueError if it is not JSON,
    MalformedInput if it is too deep or holds a NUL character."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    return check_json_value(value, where)


class PolisRequest(Request):
    """Flask's request whose JSON body and form fields are checked (depth, NUL) the first
    time they are read, whoever reads them."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        for key, value in self.form.items(multi=True):
            # A multipart part may come without a name (key None): nothing to check there.
            if "\x00" in (key or "") or "\x00" in (value or ""):
                raise _nul_refused(_("The form field '%(name)s'", name=(key or "").replace("\x00", "")[:40]))
        for key, upload in self.files.items(multi=True):
            if "\x00" in (key or "") or "\x00" in (upload.filename or ""):
                raise _nul_refused(_("A file field's name"))

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            raise _too_deep() from None
        return check_json_value(value)


def _check_request() -> None:
    if len(request.full_path.encode()) > MAX_URL_BYTES:
        raise RequestURITooLarge()
    if "\x00" in request.path:
        raise _nul_refused(_("The address"))
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            raise _nul_refused(_("The query parameter '%(name)s'", name=(key or "").replace("\x00", "")[:40]))
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 <= value <= MAX_PATH_INT:
            raise MalformedInput(
                _("'%(name)s' must be a whole number from 0 to %(most)d.", name=name, most=MAX_PATH_INT)
            )
    # Form fields are checked when first parsed (PolisRequest._load_form_data): parsing here
    # would read a large upload before the view's own size limit could refuse it.
    if request.is_json and request.content_length:
        request.get_json(silent=True)  # parses and checks once; views get the cached value


def init_input_guard(app: Flask) -> None:
    """Install the checked request class and the check that runs before every view."""
    app.request_class = PolisRequest
    # First of all before_request hooks: nothing reads input before it is checked.
    app.before_request_funcs.setdefault(None, []).insert(0, _check_request)
