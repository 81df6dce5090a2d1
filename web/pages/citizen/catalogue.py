"""The services catalogue (``/services``, also the front page) and each service's start page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from engine.administration.services import ServiceDisabled, check_service_open, offered_services
from forms.catalogue import get_service
from forms.catalogue_search import CATEGORY_TITLES, group_by_category, search_services
from web.context import db

bp = Blueprint("catalogue", __name__)


def locale() -> str:
    """The page's language as the catalogue's texts name it: el or en."""
    return "en" if str(get_locale()) == "en" else "el"


def catalogue_page(template: str = "public/home.html") -> str:
    """The catalogue grouped by category, filtered by the ``q`` search words."""
    query = request.args.get("q", "")[:200]
    found = search_services(offered_services(db()), query)
    return render_template(
        template, query=query, groups=group_by_category(found, locale()), found=len(found), lang=locale()
    )


@bp.get("/services")
def services() -> str:
    """Every service, or those that match the search."""
    return catalogue_page()


@bp.get("/services/<code>")
def start(code: str) -> Any:
    """What the service is, who can ask, what it needs, costs and takes; one Start button."""
    service = get_service(code)
    try:
        check_service_open(db(), service.code)  # switched off by an administrator
    except ServiceDisabled:
        message = _("This service does not accept new requests at the moment; contact the municipality.")
        return render_template("error.html", status=409, message=message), 409
    category = CATEGORY_TITLES.get(service.category)
    return render_template("public/service.html", service=service, category=category, lang=locale())


@bp.get("/contact")
def contact() -> Any:
    """The contact form is the ``contact`` service (a subject that picks the department, the
    general-request process): its start page, under the address people look for."""
    return redirect(url_for("catalogue.start", code="contact"))
