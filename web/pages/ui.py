"""Template helpers every page uses: deadlines in words, Athens dates, file sizes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask, g
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.clock import ATHENS, utcnow
from forms.submissions import FILE_KINDS

SLA_STATES = ("overdue", "today", "ontime")


def sla_state(due_at: datetime | None, now: datetime | None = None) -> str | None:
    """``overdue``, ``today`` (due before midnight, Athens time) or ``ontime``; None without a deadline."""
    if due_at is None:
        return None
    now = now or utcnow()
    if due_at < now:
        return "overdue"
    if due_at.astimezone(ATHENS).date() == now.astimezone(ATHENS).date():
        return "today"
    return "ontime"


#: The deadline marks' icons (decorative: the words say the state).
_SLA_ICONS = {
    "overdue": Markup(
        '<path d="M8 1 15 14H1z" fill="currentColor"/>'
        '<path d="M7.2 5.5h1.6v4.5H7.2zM7.2 11h1.6v1.6H7.2z" fill="#fff"/>'
    ),
    "today": Markup(
        '<circle cx="8" cy="8" r="7" fill="currentColor"/>'
        '<path d="M7.2 3.5h1.6v4.2l2.8 1.7-.8 1.3-3.6-2.2z" fill="#fff"/>'
    ),
    "ontime": Markup(
        '<circle cx="8" cy="8" r="7" fill="currentColor"/>'
        '<path d="m4.5 8.2 1.2-1.2 1.6 1.6 3.6-3.6 1.2 1.2-4.8 4.8z" fill="#fff"/>'
    ),
}
_SLA_WORDS = {
    "overdue": _l("Overdue"),
    "today": _l("Due today"),
    "ontime": _l("On time"),
    None: _l("No deadline"),
}


def sla_badge(due_at: datetime | None) -> Markup:
    """A task's deadline: words first ("Εκπρόθεσμο" / "Λήγει σήμερα" / "Εντός προθεσμίας"), then
    icon and colour, then the date. In Python, not a macro: an inbox draws one per row, and a
    Jinja macro call with its translations cost more than the rest of the row."""
    words: dict[str | None, str] | None = g.get("_polis_sla_words")
    if words is None:
        words = g._polis_sla_words = {k: str(v) for k, v in _SLA_WORDS.items()}
    state = sla_state(due_at)
    if state is None:
        return Markup('<span class="muted">%s</span>') % words[None]
    return Markup(
        '<span class="sla-wrap"><span class="sla sla--{state}"><svg class="icon" viewBox="0 0 16 16" '
        'width="16" height="16" aria-hidden="true" focusable="false">{icon}</svg>'
        '<span class="sla__words">{words}</span></span>\n<span class="sla__date">{day}</span></span>'
    ).format(state=state, icon=_SLA_ICONS[state], words=words[state], day=athens_date_of(due_at))


def athens_date_of(moment: datetime | None) -> str:
    """A UTC moment as the Athens calendar day, 22/11/2026."""
    return moment.astimezone(ATHENS).strftime("%d/%m/%Y") if moment else ""


def filesize(size: int | None) -> str:
    """Bytes as people read them: 840 B, 12 KB, 5 MB, 3.4 MB (3,4 MB in Greek)."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size // 1024} KB"
    megabytes = f"{size / (1024 * 1024):.1f}".removesuffix(".0")
    # Greek writes a decimal comma: 3,4 MB.
    return f"{megabytes.replace('.', ',') if str(get_locale()) == 'el' else megabytes} MB"


def file_kinds(mime_types: tuple[str, ...] | list[str]) -> str:
    """MIME types as people name them: PDF, JPEG, PNG."""
    return ", ".join(FILE_KINDS.get(kind, kind) for kind in mime_types)


def euro(amount: Decimal) -> str:
    """An amount as Greeks write it: 20,00 €."""
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") + " €"


def delivery_name(method: str) -> str:
    """How a result reaches the citizen, in words."""
    names = {
        "download": _("Download from the tracking page"),
        "counter": _("Collect it at the municipality's counter"),
        "post": _("By post"),
    }
    return str(names.get(method, method))


def local(text: Any, lang: str) -> str:
    """A catalogue text (LocalText) in ``lang``."""
    return str(text.get(lang))


def zip_options(labels: list[str], values: tuple[str, ...]) -> list[tuple[str, str, None]]:
    """Radio options (value, label, no hint) from labels and their values."""
    return [(value, label, None) for value, label in zip(values, labels, strict=True)]


def add_none(option: list[str]) -> tuple[str, str, None]:
    """A (value, label) option as a radio option without a hint."""
    return (option[0], option[1], None)


def _citizen_account() -> Any:
    # The header's "My requests" and sign-out; an error page must render even when this fails.
    from web.auth.citizen import current_applicant

    try:
        return current_applicant()
    except Exception:  # an ended session or a failed database: show the signed-out header
        return None


def init_page_helpers(app: Flask) -> None:
    """Make the helpers available to every template."""
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals["sla_state"] = sla_state
    app.jinja_env.globals["sla_badge_html"] = sla_badge
    app.jinja_env.filters["athens_date_of"] = athens_date_of
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.filters["file_kinds"] = file_kinds
    app.jinja_env.filters["euro"] = euro
    app.jinja_env.filters["delivery_name"] = delivery_name
    app.jinja_env.filters["local"] = local
    app.jinja_env.filters["zip_options"] = zip_options
    app.jinja_env.filters["add_none"] = add_none

    app.jinja_env.globals["citizen_account"] = _citizen_account

    @app.context_processor
    def _signed_in_user() -> dict[str, object]:
        # The header shows who is signed in on every page, error pages included; an error
        # page must still render when the database is what failed.
        from web.auth.staff import current_user

        try:
            current_user()
        except Exception:  # the header is not worth a second error
            g.user = None
        return {}
