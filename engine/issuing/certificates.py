"""Certificates: a service's Greek template filled with the case data, as a PDF/A-2b.

Templates are trusted files from the catalogue; what citizens typed is data only. The
environment is sandboxed and autoescaped, and citizen values are passed as plain strings,
so ``{{ 7*7 }}`` or ``<script>`` in a form field is printed as typed, never evaluated.
"""

from __future__ import annotations

import base64
import calendar
import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import jinja2
import qrcode
import qrcode.constants
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.clock import ATHENS
from core.errors import InvalidInput, PolisError
from forms.catalogue import CATALOGUE_DIR, Service
from signing.stamp import StampPlacement

#: Shown where the protocol number goes until the ΕΞ registration gives the real one.
PROTOCOL_PLACEHOLDER = "[αριθμός πρωτοκόλλου]"
SHARED_TEMPLATES = CATALOGUE_DIR / "_shared"


#: Where the seal's visible stamp goes on a certificate: the band the shared layout keeps
#: free above the footer (x from 106 mm to the right margin, 34-60 mm from the bottom).
CERTIFICATE_STAMP = StampPlacement(page=-1, box=(300, 96, 538, 170))


class CertificateRenderingError(PolisError):
    """A certificate template could not be filled or printed; the message says which and why."""

    code = "certificate_rendering"


@dataclass(frozen=True)
class CertificateContext:
    """Everything a certificate shows besides the form data."""

    municipality_name: str
    case_number: str
    issued_at: datetime
    verification_url: str
    verification_code: str
    protocol_number: str = PROTOCOL_PLACEHOLDER
    department_name: str = ""


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months (the 31st becomes the month's last day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def valid_until(service: Service, issued_at: datetime) -> date | None:
    """The last day (Athens) a certificate issued at ``issued_at`` is valid, or None if it does not expire."""
    if service.validity_months is None:
        return None
    issued_day = issued_at.astimezone(ATHENS).date()
    return add_months(issued_day, service.validity_months)


def qr_data_uri(url: str) -> str:
    """A QR code of ``url`` as a PNG ``data:`` URI: one-bit, 10 pixels a module (over 400 dpi
    at the template's 22 mm), which WeasyPrint embeds as it is; an SVG QR code cost ~70 ms
    of every certificate in path parsing."""
    code = qrcode.QRCode(border=2, box_size=10, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().get_image().convert("1").save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _date_el(value: Any) -> str:
    # Form dates travel as ISO strings; people read dd/mm/yyyy.
    if isinstance(value, datetime):
        return value.astimezone(ATHENS).strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


def _upper_el(value: Any) -> str:
    # Greek capitals carry no accents: "Πιστοποιητικό" -> "ΠΙΣΤΟΠΟΙΗΤΙΚΟ", not "ΠΙΣΤΟΠΟΙΗΤΙΚΌ".
    decomposed = unicodedata.normalize("NFD", str(value).upper())
    return unicodedata.normalize("NFC", decomposed.replace("\u0301", "").replace("\u0342", ""))


def _environment(service: Service) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(service.certificate_template.parent), str(SHARED_TEMPLATES)]),
        autoescape=True,
        auto_reload=False,
    )
    env.filters["date_el"] = _date_el
    env.filters["upper_el"] = _upper_el
    return env


def _plain(value: Any) -> Any:
    # Only JSON-like values reach the template: no objects with methods to call.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def render_certificate_html(service: Service, data: Mapping[str, Any], context: CertificateContext) -> str:
    """The filled HTML of ``service``'s certificate for the form ``data``."""
    if context.issued_at.tzinfo is None:
        raise InvalidInput("issued_at must carry a time zone (UTC).")
    fields = service.ui["fields"]
    choice = {
        name: fields[name]["options"].get(str(data.get(name)), {}).get("el", str(data.get(name)))
        for name in fields
        if "options" in fields[name] and name in data
    }
    until = valid_until(service, context.issued_at)
    variables = {
        "data": _plain(data),
        "choice": choice,
        "service_title": service.title.el,
        "municipality_name": context.municipality_name,
        "department_name": context.department_name,
        "protocol_number": context.protocol_number,
        "case_number": context.case_number,
        "issue_date": _date_el(context.issued_at),
        "valid_until": _date_el(until) if until else None,
        "verification_url": context.verification_url,
        "verification_code": context.verification_code,
        "qr_data_uri": qr_data_uri(context.verification_url),
    }
    try:
        template = _environment(service).get_template(service.certificate_template.name)
        return template.render(variables)
    except jinja2.TemplateError as exc:
        raise CertificateRenderingError(
            f"The certificate template of {service.code!r} ({service.certificate_template}) failed: "
            f"{exc}. Fix the template; the case data was not changed."
        ) from exc


def html_to_pdfa(html: str, *, title: str) -> bytes:
    """Print ``html`` to a PDF/A-2b with every font embedded (DejaVu Sans covers Greek)."""
    from weasyprint import HTML  # imported late: loading Pango costs ~0.3 s at start
    from weasyprint.urls import URLFetcher

    # A certificate is self-contained: data: URIs only, so printing never touches the network
    # or the file system whatever a template says; a refused resource stops the printing.
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)

    try:
        pdf = HTML(string=html, base_url=str(CATALOGUE_DIR), url_fetcher=fetcher).write_pdf(
            pdf_variant="pdf/a-2b", uncompressed_pdf=False, pdf_tags=False
        )
    except Exception as exc:
        raise CertificateRenderingError(f"Could not print the certificate {title!r} to PDF: {exc}.") from exc
    assert isinstance(pdf, bytes)
    return pdf


def render_certificate_pdf(service: Service, data: Mapping[str, Any], context: CertificateContext) -> bytes:
    """The certificate of ``service`` for ``data`` as PDF/A-2b bytes, ready to be sealed."""
    return html_to_pdfa(render_certificate_html(service, data, context), title=service.title.el)
