"""The public verification page and API, with documents sealed by the configured sealer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ATHENS
from core.settings import Settings
from engine.issuing.registry import IssuedDocument, issue_document, new_verification_code, revoke_document
from engine.people.accounts import create_user
from engine.people.admin_audit import AdminEvent, verify_admin_chain
from engine.people.models import Department, User
from engine.people.tokens import create_token
from signing.config import sealer_for
from signing.stamp import Stamp
from storage.filesystem import FilesystemStore
from tests.signing.pkitools import TestPki, simple_pdf


@pytest.fixture
def signing_settings(tmp_path: Path, pg_url: str, test_pki: TestPki) -> Settings:
    """Test settings with the test PKI's seal, TSA and root."""
    return Settings(
        env="test",
        var_dir=tmp_path / "var",
        database_url=pg_url,
        storage_url=(tmp_path / "objects").as_uri(),
        secret_key="test-secret-key-test-secret-key",
        base_url="http://polis.test",
        signing_signer="pkcs12",
        signing_pkcs12_path=test_pki.p12("signer"),
        signing_pkcs12_passphrase="test-pass",
        signing_tsa_url=test_pki.pki.tsa_url,
        signing_trust_roots=str(test_pki.root_pem),
    )


@pytest.fixture
def verify_client(
    signing_settings: Settings, session_factory: sessionmaker[Session], object_store: FilesystemStore
) -> Iterator[Any]:
    from web.app import create_app

    app = create_app(signing_settings, session_factory=session_factory, store=object_store)
    app.config["TESTING"] = True
    yield app.test_client()


@pytest.fixture(scope="session")
def sealed_certificate(test_pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """A certificate sealed at B-LT by the sealer the settings build, with its code in the QR."""
    settings = Settings(
        env="test",
        var_dir=tmp_path_factory.mktemp("var"),
        signing_signer="pkcs12",
        signing_pkcs12_path=test_pki.p12("signer"),
        signing_pkcs12_passphrase="test-pass",
        signing_tsa_url=test_pki.pki.tsa_url,
        signing_trust_roots=str(test_pki.root_pem),
    )
    code = new_verification_code()
    stamp = Stamp(f"{settings.public_base_url}/verify/{code}", code)
    return code, sealer_for(settings).seal(simple_pdf(text="Vevaiosi monimis katoikias"), stamp)


@pytest.fixture
def issued(db_session: Session, sealed_certificate: tuple[str, bytes]) -> IssuedDocument:
    code, pdf = sealed_certificate
    return issue_document(
        db_session,
        title="Βεβαίωση μόνιμης κατοικίας",
        pdf=pdf,
        storage_key=f"issued/{code}.pdf",
        protocol_number="1234 ΕΞ 2026",
        verification_code=code,
    )


def test_page_in_greek_by_default(verify_client: Any, issued: IssuedDocument) -> None:
    response = verify_client.get(f"/verify/{issued.verification_code}")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Επαλήθευση εγγράφου" in html
    assert "έγκυρο" in html
    assert "Βεβαίωση μόνιμης κατοικίας" in html
    assert "1234 ΕΞ 2026" in html
    assert issued.sha256 in html


def test_page_in_english(verify_client: Any, issued: IssuedDocument) -> None:
    html = verify_client.get(f"/verify/{issued.verification_code}?lang=en").get_data(as_text=True)

    assert "Document verification" in html
    assert "is valid" in html


def test_unknown_code_is_a_404_page(verify_client: Any) -> None:
    response = verify_client.get(f"/verify/{new_verification_code()}")

    assert response.status_code == 404
    assert "text/html" in response.content_type
    assert "Δεν υπάρχει έγγραφο με αυτόν τον κωδικό επαλήθευσης" in response.get_data(as_text=True)


def test_revoked_document_says_so(verify_client: Any, issued: IssuedDocument, db_session: Session) -> None:
    head = User(username="head-verify", full_name="Head", roles=["head"])
    db_session.add(head)
    db_session.flush()
    revoke_document(db_session, issued.verification_code, by=head.id, reason="issued by mistake")

    html = verify_client.get(f"/verify/{issued.verification_code}").get_data(as_text=True)
    data = verify_client.get(f"/api/v1/verify/{issued.verification_code}").get_json()

    assert "έχει ανακληθεί" in html
    assert data["status"] == "revoked" and data["revoked_at"]
    # Issue 16: whoever checks a revoked document is told when and why.
    assert data["revocation_reason"] == "issued by mistake" and "issued by mistake" in html


def test_an_administrator_revokes_through_the_api_and_verify_shows_date_and_reason(
    verify_client: Any, issued: IssuedDocument, db_session: Session
) -> None:
    unit = Department(code="ADM-V", name_el="Διοίκηση", name_en="Administration")
    db_session.add(unit)
    db_session.flush()
    admin = create_user(
        db_session, username="admin-v", full_name="Admin", password=None, department=unit, roles=["admin"]
    )
    clerk = create_user(
        db_session, username="clerk-v", full_name="Clerk", password=None, department=unit, roles=["clerk"]
    )
    url = f"/api/v1/admin/documents/{issued.verification_code}/revoke"
    body = {"reason": "wrong applicant name"}

    as_clerk = {"Authorization": f"Bearer {create_token(db_session, clerk, 't').secret}"}
    assert verify_client.post(url, json=body, headers=as_clerk).status_code == 403
    as_admin = {"Authorization": f"Bearer {create_token(db_session, admin, 't').secret}"}
    assert verify_client.post(url, json={"reason": ""}, headers=as_admin).status_code == 422
    response = verify_client.post(url, json=body, headers=as_admin)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "revoked"
    assert verify_client.post(url, json=body, headers=as_admin).status_code == 409  # once only

    data = verify_client.get(f"/api/v1/verify/{issued.verification_code}").get_json()
    assert data["status"] == "revoked" and data["revocation_reason"] == "wrong applicant name"
    revoked_on = datetime.fromisoformat(data["revoked_at"]).astimezone(ATHENS).strftime("%d/%m/%Y")
    html = verify_client.get(f"/verify/{issued.verification_code}").get_data(as_text=True)
    assert "έχει ανακληθεί" in html and "wrong applicant name" in html and revoked_on in html
    event = db_session.scalars(select(AdminEvent).where(AdminEvent.action == "document.revoke")).one()
    assert (event.actor_id, event.details["code"]) == (admin.id, issued.verification_code)
    assert verify_admin_chain(db_session) == []


def test_api_status(verify_client: Any, issued: IssuedDocument) -> None:
    data = verify_client.get(f"/api/v1/verify/{issued.verification_code}").get_json()

    assert data == {
        "code": issued.verification_code,
        "status": "valid",
        "title": "Βεβαίωση μόνιμης κατοικίας",
        "protocol_number": "1234 ΕΞ 2026",
        "signer_name": None,
        "signer_title": None,
        "issued_at": issued.issued_at.isoformat(),
        "revoked_at": None,
        "revocation_reason": None,
        "sha256": issued.sha256,
    }


def test_api_unknown_code(verify_client: Any) -> None:
    response = verify_client.get("/api/v1/verify/not-a-code")

    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown_verification_code"


def test_api_checks_the_same_file(
    verify_client: Any, issued: IssuedDocument, sealed_certificate: tuple[str, bytes]
) -> None:
    _, pdf = sealed_certificate

    response = verify_client.post(
        f"/api/v1/verify/{issued.verification_code}",
        data={"file": (BytesIO(pdf), "certificate.pdf")},
        content_type="multipart/form-data",
    )

    copy = response.get_json()["copy"]
    assert copy["same_file"] is True
    assert copy["signatures"]["verdict"] == "valid"
    assert copy["signatures"]["signatures"][0]["level"] == "B-LT"


def test_api_checks_a_tampered_copy(
    verify_client: Any, issued: IssuedDocument, sealed_certificate: tuple[str, bytes]
) -> None:
    _, pdf = sealed_certificate
    tampered = pdf.replace(b"monimis", b"MONIMIS", 1)

    response = verify_client.post(
        f"/api/v1/verify/{issued.verification_code}", data=tampered, content_type="application/pdf"
    )

    copy = response.get_json()["copy"]
    assert copy["same_file"] is False
    assert copy["signatures"]["verdict"] == "invalid"


def test_api_refuses_a_missing_file(verify_client: Any, issued: IssuedDocument) -> None:
    response = verify_client.post(f"/api/v1/verify/{issued.verification_code}")

    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid_input"


def test_page_upload_form(
    verify_client: Any, issued: IssuedDocument, sealed_certificate: tuple[str, bytes]
) -> None:
    _, pdf = sealed_certificate
    page = verify_client.get(f"/verify/{issued.verification_code}").get_data(as_text=True)
    token = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert token is not None

    response = verify_client.post(
        f"/verify/{issued.verification_code}",
        data={"_csrf": token.group(1), "file": (BytesIO(pdf), "certificate.pdf")},
        content_type="multipart/form-data",
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ίδιο αρχείο" in html
    assert "Οι υπογραφές του αντιγράφου είναι έγκυρες." in html


def test_page_upload_of_not_a_pdf(verify_client: Any, issued: IssuedDocument) -> None:
    page = verify_client.get(f"/verify/{issued.verification_code}").get_data(as_text=True)
    token = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert token is not None

    response = verify_client.post(
        f"/verify/{issued.verification_code}",
        data={"_csrf": token.group(1), "file": (BytesIO(b"hello"), "note.txt")},
        content_type="multipart/form-data",
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Διαφορετικό αρχείο" in html
    assert "Μη έγκυρες υπογραφές" in html


def test_an_oversized_copy_is_refused_before_it_is_read(verify_client: Any, issued: IssuedDocument) -> None:
    import time

    from web.api.verify import MAX_UPLOAD_BYTES

    big = b"%PDF-1.7\n" + b"0" * (MAX_UPLOAD_BYTES + 1)
    started = time.monotonic()
    raw = verify_client.post(
        f"/api/v1/verify/{issued.verification_code}", data=big, content_type="application/pdf"
    )
    # (refused on Content-Length, multipart or not, before the body is read)
    assert raw.status_code == 413
    assert raw.get_json()["error"] == "request_entity_too_large"
    assert time.monotonic() - started < 5


def test_copy_checks_are_rate_limited_per_address(verify_client: Any, issued: IssuedDocument) -> None:
    from web.api.verify import CHECKS_PER_ADDRESS

    url = f"/api/v1/verify/{issued.verification_code}"
    answers = [
        verify_client.post(url, environ_base={"REMOTE_ADDR": "10.8.0.1"}).status_code
        for _ in range(CHECKS_PER_ADDRESS.limit + 1)
    ]
    assert set(answers[:-1]) == {422} and answers[-1] == 429  # 422: no file sent
    other = verify_client.post(url, environ_base={"REMOTE_ADDR": "10.8.0.2"})
    assert other.status_code == 422
    assert verify_client.get(url, environ_base={"REMOTE_ADDR": "10.8.0.1"}).status_code == 200
