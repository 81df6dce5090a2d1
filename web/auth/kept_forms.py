"""A staff form posted after the session ended comes back filled in after sign-in.

The staff guard calls :func:`keep_posted_form` when a post arrives without a signed-in member of
staff: the fields go to the server (engine.casework.rescued_forms), a random key to the browser's
signed session cookie, and the sign-in page is shown. :func:`land_after_sign_in` binds the fields
to whoever signs in and says which page to show; that page draws them back into its form
(``kept_values`` in templates) under a notice. Nothing is submitted for the user, and the
re-submission carries a fresh CSRF token like any other.

Only posts that come from our own pages are kept (the browser's Origin, or Referer, names this
site): another site cannot plant text in a clerk's form by posting to us.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request, session
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from engine.casework.rescued_forms import (
    KeptForm,
    bind_kept_form,
    discard_kept_form,
    field_values,
    keep_form,
    kept_form,
)
from web.context import db
from web.redirects import safe_next

SESSION_KEY = "kept_form"


def _same_origin_path() -> str | None:
    """The path of the page that posted, if the browser says it is one of ours; else None."""
    origin = request.headers.get("Origin")
    own = urlsplit(request.host_url)
    if origin is not None:
        parts = urlsplit(origin)
        if (parts.scheme, parts.netloc) != (own.scheme, own.netloc):
            return None
    referer = urlsplit(request.headers.get("Referer", ""))
    if (referer.scheme, referer.netloc) != (own.scheme, own.netloc):
        # No usable Referer: a same-origin Origin alone still proves the post is ours.
        return "" if origin is not None else None
    return referer.path + (f"?{referer.query}" if referer.query else "")


def _page_for(posted_from: str, action: str) -> str:
    """A page that shows the form: where it was posted from (re-drawn after an error, that is
    the action itself, so its parent path), if that page can be opened; else the inbox."""
    adapter = current_app.url_map.bind("")
    path_only = posted_from.split("?", 1)[0]
    for candidate in (posted_from, path_only.rsplit("/", 1)[0], action.rsplit("/", 1)[0]):
        path = safe_next(candidate, "")
        if not path.startswith("/work"):
            continue
        try:
            adapter.match(path.split("?", 1)[0], method="GET")
        except (NotFound, MethodNotAllowed, RequestRedirect):  # not a page one can open as it is
            continue
        return path
    return "/work"


def keep_posted_form(ended_user_id: Any = None) -> str | None:
    """Keep this post's fields for the next sign-in; the page to come back to, or None."""
    posted_from = _same_origin_path()
    if posted_from is None:
        return None
    fields = {name: request.form.getlist(name) for name in request.form}
    page = _page_for(posted_from, request.path)
    # Committed with the guard's redirect (web.unit_of_work commits every answer below 400).
    key = keep_form(db(), action=request.path, page=page, fields=fields, owner_id=ended_user_id)
    if key is None:
        return None
    session[SESSION_KEY] = key
    return page


def land_after_sign_in(kept_key: str | None, user_id: Any) -> str | None:
    """At sign-in: the page whose form was kept for this browser, now bound to ``user_id``."""
    if not kept_key:
        return None
    page = bind_kept_form(db(), kept_key, user_id)
    if page is not None:
        session[SESSION_KEY] = kept_key
    return page


def forget_on_resubmit(user_id: Any) -> None:
    """A signed-in post to the kept form's action: the kept fields have served."""
    key = session.get(SESSION_KEY)
    if key and request.method == "POST" and discard_kept_form(db(), key, user_id, request.path):
        session.pop(SESSION_KEY, None)


def current_kept_form() -> KeptForm | None:
    """The form kept for the signed-in user to draw on this page (looked up once a request)."""
    if "kept_form" not in g:
        key = session.get(SESSION_KEY)
        user = g.get("user")
        g.kept_form = (
            kept_form(db(), key, user.id, request.path)
            if key and user is not None and request.method == "GET"
            else None
        )
    found: KeptForm | None = g.kept_form
    return found


def kept_values(action: str) -> dict[str, Any]:
    """Template helper: the kept fields of the form posted to ``action`` on this page ({} if none)."""
    return field_values(current_kept_form(), action)


def kept_choices(action: str, name: str) -> list[str]:
    """Template helper: every kept value of a repeated field (ticked checkboxes) of ``action``."""
    kept = current_kept_form()
    return list(kept.fields.get(name, [])) if kept is not None and kept.action == action else []


def init_rescue(app: Flask) -> None:
    """Template helpers for pages that draw kept forms."""
    app.jinja_env.globals["kept_values"] = kept_values
    app.jinja_env.globals["kept_choices"] = kept_choices
    app.jinja_env.globals["kept_form"] = current_kept_form
