"""Register, then stamp: the e-seal adds the protocol number and date to an official's signed
PDF as an incremental update, and both signatures stay valid (pyHanko offline, openssl)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy.orm import Session, sessionmaker

from core.errors import InvalidInput
from core.settings import Settings
from engine.issuing.registration import issue_signed_document, stamp_registration
from engine.issuing.registry import lookup, new_verification_code
from signing.csc import CscService, sign_remotely
from signing.external import finish_external, to_be_signed
from signing.remote_signers import sign_digest_with_key
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs12Signer
from signing.stamp import SIGNATURE_TEXT, Stamp, StampPlacement
from signing.two_step import ReservedField, TwoStepSigning
from signing.verify import Verdict, verify
from storage.filesystem import FilesystemStore
from tests.signing.pkitools import ARCH, TestPki, openssl_verify_all, simple_pdf

NAME = "Μαρία Παπαδοπούλου"
TITLE = "Αντιδήμαρχος Διοικητικών Υπηρεσιών"
BASE = "https://polis.example.gr"


@pytest.fixture
def signing(pki: TestPki) -> TwoStepSigning:
    """B-LT qualified signatures."""
    return TwoStepSigning(
        level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url, trust_roots=[pki.root], require_qualified="qct_esign"
    )


@pytest.fixture
def seal(pki: TestPki) -> Sealer:
    """The organisation's qualified e-seal at B-LT."""
    return Sealer(
        Pkcs12Signer(pki.p12("qualified"), b"test-pass"),
        level=PadesLevel.B_LT,
        tsa_url=pki.pki.tsa_url,
        trust_roots=[pki.root],
    )


def official_stamp(code: str) -> Stamp:
    """The official's visible signature with name and title."""
    return Stamp(
        f"{BASE}/verify/{code}", code, signer_name=NAME, text=SIGNATURE_TEXT, details=(("title", TITLE),)
    )


def assert_both_valid(stamped: bytes, pki: TestPki) -> None:
    """The official's signature and the registration seal both hold, offline and with openssl."""
    report = verify(stamped, [pki.root], allow_fetching=False)
    assert report.verdict is Verdict.VALID, report.reason
    by_field = {s.field_name: s for s in report.signatures}
    official, registration = by_field["PolisSignature1"], by_field["PolisRegistration"]
    assert official.signer_name == NAME and official.level == "B-LT"
    assert official.changes_after == "form fields were filled in or signed"
    assert not official.covers_whole_document
    assert registration.level == "B-LT"
    assert registration.changes_after == "only validation data and timestamps were added"
    assert registration.qualified.qualified
    assert openssl_verify_all(stamped, pki.root_pem) == 2


def test_csc_signed_document_is_stamped_without_breaking_the_signature(
    signing: TwoStepSigning, seal: Sealer, pki: TestPki, csc_url: str
) -> None:
    code = new_verification_code()
    (signed,) = sign_remotely(
        signing,
        CscService(csc_url, f"{ARCH}/official"),
        [(simple_pdf(2), official_stamp(code))],
        pin="1234",
        reserve=ReservedField(),
        certify=True,  # the only signer: DocMDP "fill forms and sign"
    )

    stamped = stamp_registration(
        seal,
        signed,
        protocol_number="4321 ΕΞ 2026",
        registered_at=datetime(2026, 12, 5, 10, 30, tzinfo=UTC),
        verification_url=f"{BASE}/verify/{code}",
        verification_code=code,
    )

    assert stamped.startswith(signed)  # an incremental update: the signed bytes are untouched
    assert_both_valid(stamped, pki)


def test_external_signed_document_is_stamped_and_registered_with_its_signer(
    signing: TwoStepSigning,
    seal: Sealer,
    pki: TestPki,
    db_session: Session,
    object_store: FilesystemStore,
) -> None:
    code = new_verification_code()
    pending = signing.begin(
        simple_pdf(1),
        pki.pki.cert("official"),
        pki.pki.chain("official"),
        official_stamp(code),
        reserve=ReservedField(),
    )
    key = load_pem_private_key(pki.pki.private_key_pem("official"), None)
    value = sign_digest_with_key(key)(base64.b64decode(to_be_signed(pending)["digest_to_sign"]), "sha256")
    assert isinstance(value, bytes)
    signed = finish_external(signing, pending, {"signature_value": base64.b64encode(value).decode()})

    document = issue_signed_document(
        db_session,
        seal,
        object_store,
        title="Απάντηση σε αίτημα",
        signed_pdf=signed,
        protocol_number="4322 ΕΞ 2026",
        registered_at=datetime.now(UTC),
        public_base_url=BASE,
        verification_code=code,
        signer_name=NAME,
        signer_title=TITLE,
    )

    found = lookup(db_session, code)
    assert found.id == document.id
    assert (found.signer_name, found.signer_title) == (NAME, TITLE)
    with object_store.open(document.storage_key) as stored:
        assert_both_valid(stored.read(), pki)


def test_a_signature_without_the_reserved_field_is_not_stamped(
    signing: TwoStepSigning, seal: Sealer, pki: TestPki, csc_url: str
) -> None:
    code = new_verification_code()
    (signed,) = sign_remotely(
        signing, CscService(csc_url, f"{ARCH}/official"), [(simple_pdf(1), official_stamp(code))], pin="1"
    )

    with pytest.raises(InvalidInput, match="without reserving the registration field"):
        stamp_registration(
            seal,
            signed,
            protocol_number="1 ΕΞ 2026",
            registered_at=datetime.now(UTC),
            verification_url=f"{BASE}/verify/{code}",
            verification_code=code,
        )


# --- the verification page shows the signer -------------------------------------------------


@pytest.fixture
def verify_client(
    tmp_path: Any, pg_url: str, test_pki: TestPki, session_factory: sessionmaker[Session], object_store: Any
) -> Iterator[Any]:
    """The web app with the test PKI as trust root."""
    from web.app import create_app

    settings = Settings(
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
    app = create_app(settings, session_factory=session_factory, store=object_store)
    app.config["TESTING"] = True
    yield app.test_client()


def test_verification_page_shows_the_signer(
    verify_client: Any, db_session: Session, seal: Sealer, signing: TwoStepSigning, pki: TestPki, csc_url: str
) -> None:
    from engine.issuing.registry import issue_document

    code = new_verification_code()
    (signed,) = sign_remotely(
        signing, CscService(csc_url, f"{ARCH}/official"), [(simple_pdf(1), official_stamp(code))], pin="1"
    )
    issue_document(
        db_session,
        title="Απόφαση",
        pdf=signed,
        storage_key=f"issued/{code}.pdf",
        protocol_number="77 ΕΞ 2026",
        verification_code=code,
        signer_name=NAME,
        signer_title=TITLE,
    )

    html = verify_client.get(f"/verify/{code}").get_data(as_text=True)
    data = verify_client.get(f"/api/v1/verify/{code}").get_json()

    assert "Υπογράφει" in html and "Μαρία Παπαδοπούλου, Αντιδήμαρχος" in html
    assert (data["signer_name"], data["signer_title"]) == (NAME, TITLE)


def test_co_signed_document_is_stamped_and_every_signature_holds(
    signing: TwoStepSigning, seal: Sealer, pki: TestPki, csc_url: str
) -> None:
    """Two signatures in a chain (the first certifies, the second locks only its own field),
    then the registration seal: all three valid."""
    code = new_verification_code()
    service = CscService(csc_url, f"{ARCH}/official")
    (first,) = sign_remotely(
        signing, service, [(simple_pdf(1), official_stamp(code))], pin="1", reserve=ReservedField()
    )
    second_stamp = Stamp(
        f"{BASE}/verify/{code}",
        code,
        signer_name=NAME,
        text=SIGNATURE_TEXT,
        details=(("title", "Δήμαρχος"),),
        placement=StampPlacement(page=-1, box=(300, 130, 570, 210)),
    )
    (second,) = sign_remotely(signing, service, [(first, second_stamp)], pin="1")

    stamped = stamp_registration(
        seal,
        second,
        protocol_number="4323 ΕΞ 2026",
        registered_at=datetime.now(UTC),
        verification_url=f"{BASE}/verify/{code}",
        verification_code=code,
    )

    report = verify(stamped, [pki.root], allow_fetching=False)
    assert report.verdict is Verdict.VALID, report.reason
    names = sorted(s.field_name for s in report.signatures)
    assert len(names) == 3 and names[0] == "PolisRegistration"
    assert all(s.verdict is Verdict.VALID for s in report.signatures)
    assert openssl_verify_all(stamped, pki.root_pem) == 3
