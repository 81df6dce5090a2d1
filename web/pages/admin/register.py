"""The administration blueprint with every view on it, for the app factory."""

from __future__ import annotations

from flask import Flask

from web.pages.admin import access, org, people, runtime
from web.pages.admin.common import bp

#: The modules whose views register on ``bp`` when imported.
VIEW_MODULES = (access, org, people, runtime)


def init_admin_pages(app: Flask) -> None:
    """Register the administration blueprint."""
    app.register_blueprint(bp)
