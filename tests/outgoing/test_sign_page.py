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
