"""A signed document's page without JavaScript: the signatory's retry of a signature left
waiting on the time-stamping service (refused while it is still down, nothing registered),
the follow-up buttons (ορθή επανάληψη, reply, forward, clone) and the protocol office's
"mark printed" on the print list."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.outgoing.models import OutgoingDocument, OutgoingRecipient, OutgoingRelated
from storage.filesystem import FilesystemStore
from tests.outgoing.conftest import Municipality, restored, run_services
from tests.outgoing.test_signature import waiting_for_the_mayor
from tests.signing.pkitools import ARCH, TestPki
from tests.web.staff_fixtures import CSRF, sign_in

pytestmark = pytest.mark.usefixtures("handlers")


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


def test_retry_a_waiting_signature_then_follow_ups_and_the_print_list(
    client: Any, db_session: Session, town: Municipality, object_store: FilesystemStore, pki: TestPki
) -> None:
    document = waiting_for_the_mayor(db_session, object_store, town, "Πρόσκληση σε ακρόαση")
    url = f"/work/outgoing/{document.id}"
    sign_in(client, town.mayor)
    pki.server.down = {"tsa"}
    form = {"_csrf": CSRF, "documents": [str(document.id)], "credential": f"{ARCH}/official", "pin": "1234"}
    assert "αναμένει την υπηρεσία χρονοσήμανσης" in client.post("/work/outgoing/sign", data=form).get_data(
        as_text=True
    )
    page = client.get(url).get_data(as_text=True)
    assert 'id="retry-title"' in page and 'id="f-pin"' not in page and 'id="sign-title"' not in page
    # Still down: refused, the document keeps waiting, nothing registered.
    again = client.post(f"{url}/retry-signature", data={"_csrf": CSRF})
    assert again.status_code == 503 and "εξακολουθεί να μην είναι διαθέσιμη" in again.get_data(as_text=True)
    restored(db_session)
    waiting = db_session.get(OutgoingDocument, document.id)
    assert waiting is not None and (waiting.status, waiting.entry_id) == ("to_sign", None)
    # Only the signatory retries.
    sign_in(client, town.clerk_a)
    assert client.post(f"{url}/retry-signature", data={"_csrf": CSRF}).status_code == 403
    sign_in(client, town.mayor)
    pki.server.down = set()
    done = client.post(f"{url}/retry-signature", data={"_csrf": CSRF})
    assert done.status_code == 302, done.get_data(as_text=True)
    restored(db_session)
    run_services(db_session)
    signed = db_session.get(OutgoingDocument, document.id)
    assert signed is not None and signed.status in ("registered", "sent") and signed.entry_id is not None
    assert client.post(f"{url}/retry-signature", data={"_csrf": CSRF}).status_code == 409

    # The print list: the post recipient waits for the protocol office.
    recipient = db_session.scalars(
        select(OutgoingRecipient).where(OutgoingRecipient.document_id == document.id)
    ).one()
    assert recipient.delivery == "to_print"
    sign_in(client, town.clerk_b)
    refused = client.post(f"/work/outgoing/printed/{recipient.id}", data={"_csrf": CSRF})
    assert "Μόνο το γραφείο πρωτοκόλλου" in client.get(refused.headers["Location"]).get_data(as_text=True)
    sign_in(client, town.registrar)
    listed = client.get("/work/outgoing?folder=dispatch").get_data(as_text=True)
    assert "Πρόσκληση σε ακρόαση" in listed and f"/work/outgoing/printed/{recipient.id}" in listed
    assert client.get(f"{url}/signed.pdf").data.startswith(b"%PDF-")
    printed = client.post(f"/work/outgoing/printed/{recipient.id}", data={"_csrf": CSRF})
    assert "Σημειώθηκε ως εκτυπωμένο" in client.get(printed.headers["Location"]).get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(OutgoingRecipient, recipient.id).delivery == "printed"  # type: ignore[union-attr]
    twice = client.post(f"/work/outgoing/printed/{recipient.id}", data={"_csrf": CSRF})
    assert "δεν είναι πλέον στη λίστα εκτύπωσης" in client.get(twice.headers["Location"]).get_data(
        as_text=True
    )
    assert f"/work/outgoing/printed/{recipient.id}" not in client.get(
        "/work/outgoing?folder=dispatch"
    ).get_data(as_text=True)

    # Follow-ups from the signed document's page, each a new draft of the one who asked.
    sign_in(client, town.clerk_a)
    page = client.get(url).get_data(as_text=True)
    assert 'id="followups-title"' in page and 'value="correction"' in page
    made = {}
    for how in ("correction", "reply", "forward", "clone"):
        answer = client.post(f"{url}/follow-up", data={"_csrf": CSRF, "how": how})
        assert answer.status_code == 302, (how, answer.get_data(as_text=True))
        made[how] = answer.headers["Location"].rsplit("/", 1)[1]
    assert client.post(f"{url}/follow-up", data={"_csrf": CSRF, "how": "delete"}).status_code == 422
    restored(db_session)
    drafts = {how: db_session.get(OutgoingDocument, doc_id) for how, doc_id in made.items()}
    assert all(
        d is not None and d.status == "draft" and d.author_id == town.clerk_a.id for d in drafts.values()
    )
    assert drafts["correction"].subject.endswith("(ορθή επανάληψη)")  # type: ignore[union-attr]
    cited = db_session.scalars(
        select(OutgoingRelated.document_id).where(OutgoingRelated.entry_id == signed.entry_id)
    ).all()
    assert {str(c) for c in cited} >= {made["correction"], made["reply"], made["forward"]}
    # A draft has no follow-ups; someone who may not see the document gets none either.
    refused = client.post(f"/work/outgoing/{made['clone']}/follow-up", data={"_csrf": CSRF, "how": "reply"})
    assert refused.status_code == 409 and "Μόνο υπογεγραμμένο και πρωτοκολλημένο" in refused.get_data(
        as_text=True
    )
    sign_in(client, town.clerk_b)
    assert (
        client.post(f"{url}/follow-up", data={"_csrf": CSRF, "how": "clone"}).status_code == 404
    )  # as its page
    restored(db_session)
    assert (
        db_session.scalar(select(OutgoingDocument).where(OutgoingDocument.author_id == town.clerk_b.id))
        is None
    )
