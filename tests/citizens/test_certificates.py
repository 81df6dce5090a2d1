"""Certificates: Greek PDF/A-2b with embedded fonts, a QR code, and citizen data never evaluated."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from engine.issuing.certificates import (
    PROTOCOL_PLACEHOLDER,
    CertificateContext,
    add_months,
    render_certificate_html,
    render_certificate_pdf,
    valid_until,
)
from forms.catalogue import get_service, list_services
from tests.citizens.samples import sample_data

ISSUED_AT = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # already 24 November in Athens
CONTEXT = CertificateContext(
    municipality_name="Δήμος Χανίων",
    case_number="2026-000123",
    issued_at=ISSUED_AT,
    verification_url="https://polis.chania.gr/verify/K7QX-93FD",
    verification_code="K7QX-93FD",
    department_name="Τμήμα Δημοτολογίου",
)
HOSTILE = "{{ 7*7 }} {% raw %}<script>alert('x')</script>"


@pytest.fixture(scope="module")
def family_pdf() -> bytes:
    service = get_service("family_status")
    data = sample_data(service) | {"last_name": HOSTILE}
    return render_certificate_pdf(service, data, CONTEXT)


def test_the_pdf_parses_and_declares_pdfa_2b(family_pdf):
    reader = PdfFileReader(io.BytesIO(family_pdf))
    assert family_pdf.startswith(b"%PDF-")
    metadata = reader.root["/Metadata"].get_object().data.decode("utf-8")
    assert re.search(r"pdfaid:part(>|=\")2", metadata)
    assert re.search(r"pdfaid:conformance(>|=\")B", metadata)
    assert "/OutputIntents" in reader.root


def test_every_font_is_embedded(family_pdf):
    reader = PdfFileReader(io.BytesIO(family_pdf))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    fonts = page["/Resources"]["/Font"]
    assert fonts
    for ref in fonts.values():
        font = ref.get_object()
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, font["/BaseFont"]
        assert "DejaVu" in str(font["/BaseFont"])


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (Debian poppler-utils)")
def test_the_greek_text_and_the_data_are_in_the_pdf(family_pdf):
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=family_pdf, capture_output=True, check=True
    ).stdout.decode("utf-8")
    assert "ΠΙΣΤΟΠΟΙΗΤΙΚΟ ΟΙΚΟΓΕΝΕΙΑΚΗΣ ΚΑΤΑΣΤΑΣΗΣ" in text
    assert "Δήμος Χανίων" in text
    assert "Ελένη" in text
    assert "24/11/2026" in text  # the issue date is the Athens date
    assert "24/05/2027" in text  # valid for 6 months
    assert "K7QX-93FD" in text
    assert PROTOCOL_PLACEHOLDER in text
    # The citizen's text is printed literally: not evaluated, not interpreted as markup.
    assert "{{ 7*7 }}" in text
    assert "<script>alert('x')</script>" in re.sub(r"\s+", "", text)  # pdftotext wraps long lines
    assert "49" not in text


def test_citizen_data_is_escaped_and_never_evaluated():
    service = get_service("family_status")
    data = sample_data(service) | {"last_name": HOSTILE, "first_name": "{{ ''.__class__.__mro__ }}"}
    html = render_certificate_html(service, data, CONTEXT)
    assert "{{ 7*7 }}" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "{{ &#39;&#39;.__class__.__mro__ }}" in html


def test_the_qr_code_is_embedded_as_an_image():
    service = get_service("no_debts")
    html = render_certificate_html(service, sample_data(service), CONTEXT)
    assert 'src="data:image/png;base64,' in html


@pytest.mark.parametrize("service", list_services(), ids=lambda s: s.code)
def test_every_catalogue_template_renders(service):
    html = render_certificate_html(service, sample_data(service), CONTEXT)
    assert "Δήμος Χανίων" in html
    assert "K7QX-93FD" in html


def test_validity():
    assert valid_until(get_service("family_status"), ISSUED_AT) == date(2027, 5, 24)
    assert valid_until(get_service("public_space_use"), ISSUED_AT) is None
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
