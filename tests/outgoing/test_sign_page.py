"""The signing page through the Flask test client: the signatory sees the documents waiting for
them, a refused authorisation signs nothing, the right one signs the chosen documents in one authorisation,
each reported on its own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.outgoing.models import OutgoingDocument
from storage.filesystem import FilesystemStore
from tests.outgoing.conftest import Municipality, restored
from tests.outgoing.test_signature import waiting_for_the_mayor
from tests.signing.pkitools import ARCH, TestPki
from tests.web.staff_fixtures import CSRF, sign_in


@pytest.fixture
def test_settings(test_settings: Settings, test_pki: TestPki, csc_url: str) -> Settings:
    """Officials sign through the CSC dummy; the test PKI's TSA and root."""
    return test_settings.model_copy(
        update={
            "officials_csc_url": csc_url,
            "signing_signer": "pkcs12",
            "signing_pkcs12_path": test_pki.p12("qualified"),
            "signing_tsa_url": test_pki.pki.tsa_url,
            "signing_trust_roots": str(test_pki.root_pem),
        }
    )


def test_batch_signing_page_signs_nothing_when_refused_then_signs_both(
    client: Any, db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    first = waiting_for_the_mayor(db_session, object_store, town, "Πρώτο προς υπογραφή")
    second = waiting_for_the_mayor(db_session, object_store, town, "Δεύτερο προς υπογραφή")
    sign_in(client, town.mayor)
    page = client.get("/work/outgoing/sign").get_data(as_text=True)
    assert "Πρώτο προς υπογραφή" in page and "Δεύτερο προς υπογραφή" in page and 'id="f-pin"' in page
    form = {"_csrf": CSRF, "documents": [str(first.id), str(second.id)], "credential": f"{ARCH}/official"}
    # The CSC dummy takes any PIN: a credential the service does not know stands for a refusal.
    refused = client.post("/work/outgoing/sign", data={**form, "credential": f"{ARCH}/nobody", "pin": "1234"})
    assert refused.status_code == 422 and "Δεν υπογράφηκε τίποτα" in refused.get_data(as_text=True)
    restored(db_session)
    assert {db_session.get(OutgoingDocument, d.id).status for d in (first, second)} == {"to_sign"}  # type: ignore[union-attr]
    signed = client.post("/work/outgoing/sign", data={**form, "pin": "1234"})
    text = signed.get_data(as_text=True)
    assert signed.status_code == 200 and text.count("Υπογράφηκε· ακολουθούν πρωτοκόλληση και αποστολή.") == 2
    restored(db_session)
    assert {db_session.get(OutgoingDocument, d.id).status for d in (first, second)} == {"signed"}  # type: ignore[union-attr]
    assert "Κανένα έγγραφο δεν αναμένει την υπογραφή σας." in client.get("/work/outgoing/sign").get_data(
        as_text=True
    )


def test_external_signer_through_the_page_downloads_the_hash_and_uploads_the_signature(
    client: Any, db_session: Session, town: Municipality, object_store: FilesystemStore, test_pki: TestPki
) -> None:
    import base64
    import io
    import json

    from asn1crypto import pem
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from signing.remote_signers import sign_digest_with_key

    document = waiting_for_the_mayor(db_session, object_store, town, "Με την εφαρμογή υπογραφής")
    sign_in(client, town.mayor)
    url = f"/work/outgoing/{document.id}"
    assert 'id="sign-title"' in client.get(url).get_data(as_text=True)
    bundle = b"".join(
        pem.armor("CERTIFICATE", c.dump())
        for c in [test_pki.pki.cert("official"), *test_pki.pki.chain("official")]
    )
    package = client.post(
        f"{url}/external/begin",
        data={"_csrf": CSRF, "certificate": (io.BytesIO(bundle), "official.pem")},
        content_type="multipart/form-data",
    )
    assert package.status_code == 200 and package.mimetype == "application/json"
    digest = base64.b64decode(json.loads(package.get_data())["digest_to_sign"])

    def answer(label: str) -> bytes:
        key = load_pem_private_key(test_pki.pki.private_key_pem(label), None)
        value = sign_digest_with_key(key)(digest, "sha256")
        assert isinstance(value, bytes)
        return json.dumps({"signature_value": base64.b64encode(value).decode()}).encode()

    wrong = client.post(
        f"{url}/external/finish",
        data={"_csrf": CSRF, "answer": (io.BytesIO(answer("official-expired")), "answer.json")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code in (409, 422)
    restored(db_session)
    assert db_session.get(OutgoingDocument, document.id).status == "to_sign"  # type: ignore[union-attr]
    done = client.post(
        f"{url}/external/finish",
        data={"_csrf": CSRF, "answer": (io.BytesIO(answer("official")), "answer.json")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    restored(db_session)
    assert db_session.get(OutgoingDocument, document.id).status == "signed"  # type: ignore[union-attr]
