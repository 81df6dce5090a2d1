"""The registry of issued documents: codes, lookup, revocation, supersession, audit rows."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from engine.issuing.registry import (
    IssuedDocument,
    UnknownVerificationCode,
    history,
    issue_document,
    lookup,
    new_verification_code,
    revoke_document,
    seal_and_issue,
)
from engine.people.models import User
from signing.errors import TimestampUnavailable
from signing.sealer import PadesLevel, Sealer
from signing.verify import Verdict, verify
from storage.filesystem import FilesystemStore
from tests.conftest import as_owner
from tests.signing.conftest import make_pkcs12
from tests.signing.pkitools import TestPki, simple_pdf


@pytest.fixture
def official(db_session: Session) -> User:
    user = User(
        id=uuid.uuid4(), username=f"head-{uuid.uuid4().hex[:6]}", full_name="Μαρία Παπαδάκη", roles=["head"]
    )
    db_session.add(user)
    db_session.flush()
    return user


def _issue(session: Session, **kwargs: object) -> IssuedDocument:
    values: dict[str, object] = {
        "title": "Βεβαίωση μόνιμης κατοικίας",
        "pdf": b"%PDF-1.7 sealed bytes",
        "storage_key": "issued/2026/abc.pdf",
        "protocol_number": "34933 ΕΞ 2026",
    }
    values.update(kwargs)
    return issue_document(session, **values)  # type: ignore[arg-type]


def test_codes_are_unguessable_and_url_safe() -> None:
    codes = {new_verification_code() for _ in range(1000)}

    assert len(codes) == 1000
    for code in list(codes)[:50]:
        assert len(code) == 22  # 16 random bytes = 128 bits
        assert code.replace("-", "").replace("_", "").isalnum()
    # A code typed after `polis documents revoke` must not read as an option (1 in 32 did).
    assert all(code[0].isalnum() for code in codes)


def test_issue_then_lookup(db_session: Session, official: User) -> None:
    document = _issue(db_session, issued_by=official.id)

    found = lookup(db_session, document.verification_code)

    assert found.id == document.id
    assert found.status == "valid"
    assert found.sha256 == hashlib.sha256(b"%PDF-1.7 sealed bytes").hexdigest()
    assert found.protocol_number == "34933 ΕΞ 2026"
    assert [e.action for e in history(db_session, found)] == ["issued"]


@pytest.mark.parametrize("code", ["", "short", "x" * 22, "../../etc/passwd-aaaaaaa", "A" * 200])
def test_unknown_or_malformed_code_is_not_found(db_session: Session, code: str) -> None:
    with pytest.raises(UnknownVerificationCode) as caught:
        lookup(db_session, code)
    assert isinstance(caught.value, NotFound)


def test_revoke_is_audited(db_session: Session, official: User) -> None:
    document = _issue(db_session)

    revoke_document(db_session, document.verification_code, by=official.id, reason="Εκδόθηκε κατά λάθος")

    found = lookup(db_session, document.verification_code)
    assert found.status == "revoked"
    assert found.revoked_by_id == official.id
    assert found.revoked_at is not None
    events = history(db_session, found)
    assert [(e.action, e.actor_id, e.reason) for e in events][-1] == (
        "revoked",
        official.id,
        "Εκδόθηκε κατά λάθος",
    )


def test_revoking_twice_is_a_conflict(db_session: Session, official: User) -> None:
    document = _issue(db_session)
    revoke_document(db_session, document.verification_code, by=official.id, reason="wrong person")

    with pytest.raises(Conflict, match="already revoked"):
        revoke_document(db_session, document.verification_code, by=official.id, reason="again, again")


def test_revoking_needs_a_reason(db_session: Session, official: User) -> None:
    document = _issue(db_session)

    with pytest.raises(InvalidInput, match="why"):
        revoke_document(db_session, document.verification_code, by=official.id, reason="  ")
    assert lookup(db_session, document.verification_code).status == "valid"


def test_supersede(db_session: Session, official: User) -> None:
    old = _issue(db_session)

    new = _issue(db_session, pdf=b"%PDF-1.7 corrected", supersedes=old, issued_by=official.id)

    old = lookup(db_session, old.verification_code)
    assert old.status == "superseded"
    assert old.superseded_by_id == new.id
    assert history(db_session, old)[-1].reason == f"replaced by {new.verification_code}"


def test_issue_needs_a_title(db_session: Session) -> None:
    with pytest.raises(InvalidInput, match="title"):
        _issue(db_session, title="   ")


def test_events_are_append_only(db_session: Session) -> None:
    document = _issue(db_session)
    event_id = history(db_session, document)[0].id

    with as_owner(db_session), pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(
            text("UPDATE issued_document_events SET reason = 'x' WHERE id = :id"), {"id": event_id}
        )
    with as_owner(db_session), pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(text("DELETE FROM issued_document_events WHERE id = :id"), {"id": event_id})


def test_seal_and_issue_stores_the_sealed_file(
    db_session: Session, object_store: FilesystemStore, test_pki: TestPki
) -> None:
    sealer = Sealer(make_pkcs12(test_pki), level=PadesLevel.B_LT, tsa_url=test_pki.pki.tsa_url)

    document = seal_and_issue(
        db_session,
        sealer,
        object_store,
        title="Πιστοποιητικό οικογενειακής κατάστασης",
        pdf=simple_pdf(),
        public_base_url="https://polis.example.gr/",
        protocol_number="77 ΕΞ 2026",
    )

    with object_store.open(document.storage_key, expected_sha256=document.sha256) as reader:
        stored = b"".join(reader)
    assert hashlib.sha256(stored).hexdigest() == document.sha256
    report = verify(stored, [test_pki.root])
    assert report.verdict is Verdict.VALID, report.reason
    assert lookup(db_session, document.verification_code).title.startswith("Πιστοποιητικό")


def test_seal_and_issue_stores_nothing_when_the_tsa_is_down(
    db_session: Session, object_store: FilesystemStore, test_pki: TestPki
) -> None:
    sealer = Sealer(make_pkcs12(test_pki), level=PadesLevel.B_T, tsa_url="http://127.0.0.1:9/tsa", timeout=2)
    before = db_session.scalar(select(func.count()).select_from(IssuedDocument))
    files_before = sorted(Path(object_store.root).rglob("*"))

    with pytest.raises(TimestampUnavailable):
        seal_and_issue(
            db_session,
            sealer,
            object_store,
            title="Βεβαίωση",
            pdf=simple_pdf(),
            public_base_url="https://polis.example.gr",
        )

    assert db_session.scalar(select(func.count()).select_from(IssuedDocument)) == before
    assert sorted(Path(object_store.root).rglob("*")) == files_before
