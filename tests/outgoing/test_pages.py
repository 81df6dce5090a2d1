"""The outgoing-document pages through the Flask test client, without JavaScript: a clerk
writes a draft from the template and sends it to the chain, the head approves with a
reservation, the director's return without a comment is refused (nothing changes) and with one
reaches the author; the folders and the document page in Greek and English."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.outgoing.models import OutgoingDocument
from engine.workflow.models import CaseTask
from tests.outgoing.conftest import Municipality
from tests.web.staff_fixtures import CSRF, sign_in


def test_draft_chain_and_return_through_the_pages(
    client: Any, db_session: Session, town: Municipality
) -> None:
    sign_in(client, town.clerk_a)
    form = client.get("/work/outgoing/new?kind=letter")
    assert form.status_code == 200 and "Σε απάντηση" in form.get_data(as_text=True)
    refused = client.post(
        "/work/outgoing/new", data={"_csrf": CSRF, "kind": "letter", "subject": " ", "text": "x"}
    )
    assert refused.status_code == 422 and 'id="f-subject-error"' in refused.get_data(as_text=True)
    assert db_session.scalars(select(OutgoingDocument)).all() == []
    created = client.post(
        "/work/outgoing/new",
        data={
            "_csrf": CSRF,
            "kind": "letter",
            "subject": "Απάντηση για τη σύσκεψη",
            "recipient": "Περιφέρεια Κρήτης",
            "email": "protocol@crete.example.gr",
            "unit": str(town.b.id),
            "text": "Θα παραστούμε.\nΜε εκτίμηση.",
        },
    )
    assert created.status_code == 302, created.get_data(as_text=True)
    location = created.headers["Location"]
    shown = client.get(location).get_data(as_text=True)
    assert "Απάντηση για τη σύσκεψη" in shown and "Περιφέρεια Κρήτης" in shown
    assert client.post(f"{location}/submit", data={"_csrf": CSRF}).status_code == 302
    mine = client.get("/work/outgoing?folder=mine").get_data(as_text=True)
    assert "Απάντηση για τη σύσκεψη" in mine

    sign_in(client, town.head_a)
    # The inbox's link to the chain's task lands on the document page.
    task = db_session.scalars(select(CaseTask.task_id).where(CaseTask.assignee_id == town.head_a.id)).one()
    assert client.get(f"/work/tasks/{task}").headers["Location"].endswith(location)
    folder = client.get("/work/outgoing?folder=to_sign").get_data(as_text=True)
    assert "Απάντηση για τη σύσκεψη" in folder
    page = client.get(location).get_data(as_text=True)
    assert 'id="act-title"' in page
    approved = client.post(
        f"{location}/approve",
        data={
            "_csrf": CSRF,
            "comment": "Εντάξει",
            "reservation": "Με επιφύλαξη για την ημερομηνία",
            "reservation_kind": "reservation",
        },
    )
    assert approved.status_code == 302

    sign_in(client, town.director)
    refused = client.post(f"{location}/return", data={"_csrf": CSRF, "comment": "  "})
    assert refused.status_code == 422
    assert "Δεν έγινε καμία αλλαγή: Γράψτε πρώτα το σχόλιο." in refused.get_data(as_text=True)
    document = db_session.scalars(select(OutgoingDocument)).one()
    assert document.status == "in_chain"
    returned = client.post(f"{location}/return", data={"_csrf": CSRF, "comment": "Λείπουν τα ονόματα."})
    assert returned.status_code == 302
    db_session.expire_all()
    assert db_session.scalars(select(OutgoingDocument)).one().status == "returned"

    sign_in(client, town.clerk_a)
    for language in ("el", "en"):
        page = client.get(location, headers={"Accept-Language": language}).get_data(as_text=True)
        assert "Λείπουν τα ονόματα." in page and "Με επιφύλαξη για την ημερομηνία" in page
    assert "Λείπουν" not in client.get("/work/outgoing?folder=sent").get_data(as_text=True)
    returned_folder = client.get("/work/outgoing?folder=returned").get_data(as_text=True)
    assert "Απάντηση για τη σύσκεψη" in returned_folder


def test_a_reply_started_on_an_incoming_document_opens_its_draft(
    client: Any, db_session: Session, town: Municipality, object_store: Any
) -> None:
    import re

    from engine.documents.registration import register_incoming
    from tests.documents.conftest import letter

    incoming = register_incoming(
        db_session, object_store, letter(for_action=(town.a.id,)), registered_by=town.registrar
    )
    sign_in(client, town.head_a)
    page = client.get(f"/work/documents/{incoming.id}").get_data(as_text=True)
    task = re.search(r'name="task" value="([0-9a-f-]+)"', page)
    assert task is not None
    started = client.post(
        f"/work/documents/{incoming.id}/reply", data={"_csrf": CSRF, "task": task.group(1), "note": ""}
    )
    assert started.status_code == 302 and "/work/outgoing/" in started.headers["Location"]
    draft_url = started.headers["Location"]
    shown = client.get(draft_url).get_data(as_text=True)
    assert "Απάντηση: " in shown and 'id="edit-title"' in shown
    saved = client.post(
        f"{draft_url}/save",
        data={
            "_csrf": CSRF,
            "subject": "Απάντηση για τη σύσκεψη",
            "recipient": "Περιφέρεια Κρήτης",
            "email": "protocol@crete.example.gr",
            "unit": "",
            "text": "Θα παραστούμε.",
        },
    )
    assert saved.status_code == 302
    shown = client.get(draft_url).get_data(as_text=True)
    assert 'id="diff"' in shown and "+Θα παραστούμε." in shown and "protocol@crete.example.gr" in shown
    assert client.post(f"{draft_url}/submit", data={"_csrf": CSRF}).status_code == 302
    document = db_session.scalars(select(OutgoingDocument)).one()
    assert document.status == "in_chain" and document.author_id == town.head_a.id
