"""Fixtures for citizens' requests: the demo municipality, deployed processes, sample uploads."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine.people.demo import seed_demo_municipality
from engine.requests import ApplicantInfo, Upload
from engine.workflow.definitions import deploy_directory
from forms.catalogue import get_service
from tests.citizens.samples import sample_data

#: The smallest PDF readers accept: header, one empty page, trailer.
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EXE_BYTES = b"MZ\x90\x00" + b"\x00" * 200


def upload(key: str, filename: str = "scan.pdf", data: bytes = PDF_BYTES) -> Upload:
    """An upload as the web layer hands it over (a seekable stream)."""
    return Upload(key=key, filename=filename, stream=io.BytesIO(data))


def required_uploads(service_code: str) -> list[Upload]:
    """One PDF for every required attachment of the service."""
    service = get_service(service_code)
    return [upload(spec.key, f"{spec.key}.pdf") for spec in service.attachments if spec.required]


def applicant(channel: str = "email", **overrides: Any) -> ApplicantInfo:
    """Eleni, who wants to hear by ``channel``."""
    values: dict[str, Any] = {
        "name": "Ελένη Παπαδοπούλου",
        "email": "eleni@example.gr",
        "phone": "6912345678",
        "channel": channel,
        "locale": "el",
    }
    values.update(overrides)
    return ApplicantInfo(**values)


def form(service_code: str) -> dict[str, Any]:
    """A valid form of the service."""
    return {k: v for k, v in sample_data(get_service(service_code)).items() if v is not None}


@pytest.fixture
def municipality(db_session: Session) -> Session:
    """The demo municipality and every process deployed, inside the rolled-back transaction."""
    seed_demo_municipality(db_session)
    deploy_directory(db_session)
    return db_session
