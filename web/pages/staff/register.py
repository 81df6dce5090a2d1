"""The staff blueprint with every view on it, and its template helpers, for the app factory."""

from __future__ import annotations

from flask import Flask

from web.auth.kept_forms import init_rescue
from web.pages.staff import (
    approvals,
    case_files,
    cases,
    documents,
    inbox,
    outgoing,
    protocol_register,
    registration,
    substitute,
    tasks,
)
from web.pages.staff.common import ROLES, bp, department_name, process_name, service_title, task_title

#: The modules whose views register on ``bp`` when imported.
VIEW_MODULES = (
    approvals,
    case_files,
    cases,
    documents,
    inbox,
    outgoing,
    protocol_register,
    registration,
    substitute,
    tasks,
)


def init_staff_pages(app: Flask) -> None:
    """Register the blueprint, its guard and its template helpers."""
    app.register_blueprint(bp)
    app.jinja_env.filters["task_title"] = task_title
    app.jinja_env.filters["service_title"] = service_title
    app.jinja_env.filters["department_name"] = department_name
    app.jinja_env.filters["process_name"] = process_name
    app.jinja_env.globals["ROLES"] = ROLES
    init_rescue(app)
