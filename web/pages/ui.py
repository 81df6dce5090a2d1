"""Template helpers every page uses: deadlines in words, Athens dates, file sizes."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, g

from core.clock import ATHENS, utcnow

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


def athens_date_of(moment: datetime | None) -> str:
    """A UTC moment as the Athens calendar day, 22/11/2026."""
    return moment.astimezone(ATHENS).strftime("%d/%m/%Y") if moment else ""


def filesize(size: int | None) -> str:
    """Bytes as people read them: 840 B, 12 KB, 3.4 MB."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size // 1024} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def init_page_helpers(app: Flask) -> None:
    """Make the helpers available to every template."""
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals["sla_state"] = sla_state
    app.jinja_env.filters["athens_date_of"] = athens_date_of
    app.jinja_env.filters["filesize"] = filesize

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
