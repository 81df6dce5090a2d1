"""The document pages through the Flask test client: register with files and χρέωση, route,
file (a missing reason is shown at the field, nothing changes), re-assign, restricted view."""

from __future__ import annotations

import io
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.documents.models import DocumentAssignment, IncomingDocument
from engine.workflow.models import CaseTask
from tests.documents.conftest import SCANNED_LETTER, Town
from tests.web.staff_fixtures import CSRF, sign_in


def register(client: Any, town: Town, **extra: Any) -> Any:
    sign_in(client, town.registrar)
    form = {
        "_csrf": CSRF,
        "idempotency_key": "page-test-1",
        "subject": "Πρόσκληση σε σύσκεψη",
        "sender": "Περιφέρεια Κρήτης",
        "sender_reference": "55/2026",
        "sender_date": "2026-12-01",
        "document_type": "letter",
        "classification": "ΠΧ",
        "delivery_method": "post",
        "for_action": [str(town.a.department.id), str(town.b.department.id)],
        "for_information": [str(town.c.department.id)],
        "files": (io.BytesIO(SCANNED_LETTER), "scan.pdf"),
        **extra,
    }
    return client.post("/work/documents/new", data=form, content_type="multipart/form-data")


def test_register_route_file_and_restricted(client: Any, db_session: Session, town: Town) -> None:
    signed_out = client.get("/work/documents/new")
    assert signed_out.status_code == 302 and signed_out.headers["Location"].startswith("/login?")
    sign_in(client, town.registrar)
    page = client.get("/work/documents/new")
    assert page.status_code == 200
    response = register(client, town)
    assert response.status_code == 302, response.get_data(as_text=True)
    document = db_session.scalars(select(IncomingDocument)).all()[-1]
    location = response.headers["Location"]
    assert str(document.id) in location
    again = register(client, town)  # a double submission: the same document
    assert again.headers["Location"] == location

    sign_in(client, town.a.head)
    folders = client.get("/work/documents?folder=action").get_data(as_text=True)
    assert document.entry.display_number in folders and 'id="unread-action"' in folders
    shown = client.get(location).get_data(as_text=True)
    assert "Πρόσκληση σε σύσκεψη" in shown and 'id="task-route"' in shown
    # The scanned letter: streamed, checked against its SHA-256, never left in a browser cache.
    served = client.get(f"{location}/files/0")
    assert served.status_code == 200 and served.get_data() == SCANNED_LETTER
    assert served.headers["Cache-Control"] == "private, no-store"
    assert served.headers["X-Frame-Options"] == "SAMEORIGIN"  # our own pages may show it
    downloaded = client.get(f"{location}/files/0?download=1")
    assert downloaded.headers["Content-Disposition"].startswith("attachment;")
    assert downloaded.headers["X-Frame-Options"] == "DENY"
    task = db_session.scalar(
        select(CaseTask.task_id)
        .join(DocumentAssignment, DocumentAssignment.case_id == CaseTask.case_id)
        .where(DocumentAssignment.document_id == document.id, CaseTask.department_id == town.a.department.id)
    )
    assert (
        client.get(f"/work/tasks/{task}").headers["Location"].endswith(location)
    )  # the inbox link lands here
    routed = client.post(
        f"{location}/route", data={"_csrf": CSRF, "task": str(task), "clerk": str(town.a.clerk.id)}
    )
    assert routed.status_code == 302

    sign_in(client, town.a.clerk)
    shown = client.get(location).get_data(as_text=True)
    handle = re.search(r'name="task" value="([0-9a-f-]+)"', shown)
    assert handle is not None and 'id="task-handle"' in shown
    refused = client.post(
        f"{location}/file",
        data={"_csrf": CSRF, "task": handle.group(1), "reason": " ", "file_plan_code": "01"},
    )
    assert refused.status_code == 422 and 'id="f-reason-error"' in refused.get_data(as_text=True)
    filed = client.post(
        f"{location}/file",
        data={"_csrf": CSRF, "task": handle.group(1), "reason": "Για το αρχείο.", "file_plan_code": "01"},
    )
    assert filed.status_code == 302
    assert document.entry.display_number in client.get("/work/documents?folder=filed").get_data(as_text=True)

    sign_in(client, town.x.clerk)
    restricted = client.get(location).get_data(as_text=True)
    assert (
        'id="restricted"' in restricted and "Πρόσκληση" not in restricted and "Περιφέρεια" not in restricted
    )
    assert client.get(f"{location}/files/0").status_code in (403, 404)


def test_registration_errors_are_shown_at_the_fields(client: Any, town: Town) -> None:
    response = register(client, town, subject="", idempotency_key="page-test-2")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'href="#f-subject"' in body and "Περιφέρεια Κρήτης" in body


def test_the_protocol_office_confirms_a_mailed_document(
    client: Any, db_session: Session, town: Town, object_store: Any
) -> None:
    from email.message import EmailMessage

    from engine.documents.mail import accept_message

    message = EmailMessage()
    message["From"] = "Υπουργείο Εσωτερικών <info@ypes.example>"
    message["Subject"] = "Εγκύκλιος 12/2026"
    message["Message-ID"] = "<egkyklios-12@ypes.example>"
    message.set_content("Κοινοποιείται η εγκύκλιος.")
    message.add_attachment(SCANNED_LETTER, maintype="application", subtype="pdf", filename="egkyklios.pdf")
    draft, _ = accept_message(db_session, object_store, message.as_bytes())
    held, _ = accept_message(
        db_session, object_store, b"Message-ID: <x@y>\r\nContent-Type: multipart/mixed\r\n\r\n"
    )
    sign_in(client, town.registrar)
    box = client.get("/work/documents/mail").get_data(as_text=True)
    assert "Εγκύκλιος 12/2026" in box and held.hold_reason in box
    form = client.get(f"/work/documents/mail/{draft.id}").get_data(as_text=True)
    assert 'value="Υπουργείο Εσωτερικών &lt;info@ypes.example&gt;"' in form and "egkyklios.pdf" in form
    sent = {
        "_csrf": CSRF,
        "subject": "Εγκύκλιος 12/2026",
        "sender": "Υπουργείο Εσωτερικών",
        "document_type": "circular",
        "delivery_method": "email",
        "for_information": [str(town.c.department.id)],
    }
    response = client.post(f"/work/documents/mail/{draft.id}", data=sent)
    assert response.status_code == 302, response.get_data(as_text=True)
    again = client.post(f"/work/documents/mail/{draft.id}", data=sent)
    assert again.headers["Location"] == response.headers["Location"]
    sign_in(client, town.c.clerk)
    assert "Εγκύκλιος 12/2026" in client.get("/work/documents?folder=information").get_data(as_text=True)
    sign_in(client, town.c.clerk)
    assert client.get("/work/documents/mail").status_code == 403
