"""The draft page's files without JavaScript: the author uploads a DOCX and an ODT body (new
versions), compares and restores versions, downloads them, and adds and removes attachments;
a file that is not a PDF/DOCX/ODT, an empty one or an attachment of a kind not taken is refused
next to its field in Greek or English, and nothing is stored."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.outgoing.drafts import BodyInput, RecipientInput, create_draft
from engine.outgoing.models import OutgoingAttachment, OutgoingVersion
from storage.filesystem import FilesystemStore
from tests.outgoing.conftest import Municipality
from tests.outgoing.test_drafts import docx, odt
from tests.web.staff_fixtures import CSRF, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _count(session: Session, model: Any) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_body_versions_and_attachments_through_the_page(
    client: Any, db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    draft = create_draft(
        db_session,
        object_store,
        town.clerk_a,
        kind="letter",
        subject="Πρόσκληση σε σύσκεψη",
        recipients=[RecipientInput("external", "Περιφέρεια Κρήτης", email="p@crete.example.gr")],
        body=BodyInput(template_text="Σας καλούμε στη σύσκεψη."),
    )
    url = f"/work/outgoing/{draft.id}"
    sign_in(client, town.clerk_a)
    page = client.get(url).get_data(as_text=True)
    assert 'id="f-file-limits"' in page and "PDF, DOCX ή ODT· έως 20 MB" in page
    assert 'id="f-attachment-limits"' in page and "το πολύ 20 αρχεία" in page

    def upload(name: str, data: bytes, field: str = "file", where: str = "body", **headers: str) -> Any:
        return client.post(
            f"{url}/{where}",
            data={"_csrf": CSRF, field: (io.BytesIO(data), name)},
            content_type="multipart/form-data",
            headers=headers,
        )

    # Refused bodies: the reason next to the field, nothing stored.
    refused = upload("letter.docx", b"plain text, not a document")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="f-file-error"' in html and "δεν είναι PDF, DOCX ή ODT" in html
    refused = upload("letter.docx", b"plain text", **{"Accept-Language": "en"})
    assert "is not a PDF, DOCX or ODT" in refused.get_data(as_text=True)
    assert upload("", b"").status_code == 422
    assert _count(db_session, OutgoingVersion) == 1

    # A DOCX, then an ODT: versions 2 and 3; the page compares 2 with 3 and any pair on request.
    assert upload("apofasi.docx", docx("Αποφασίζουμε", "τη χορήγηση")).status_code == 302
    assert upload("apofasi.odt", odt("Αποφασίζουμε", "την απόρριψη")).status_code == 302
    shown = client.get(url).get_data(as_text=True)
    assert "-τη χορήγηση" in shown and "+την απόρριψη" in shown
    # Saving the subject with the uploaded file's text as the page shows it keeps the file.
    kept = client.post(
        f"{url}/save",
        data={
            "_csrf": CSRF,
            "subject": "Πρόσκληση σε σύσκεψη",
            "recipient": "Περιφέρεια Κρήτης",
            "email": "p@crete.example.gr",
            "text": "Αποφασίζουμε\r\nτην απόρριψη",
        },
    )
    assert kept.status_code == 302 and _count(db_session, OutgoingVersion) == 3
    chosen = client.get(f"{url}?from=1&to=2").get_data(as_text=True)
    assert "-Σας καλούμε στη σύσκεψη." in chosen and "+τη χορήγηση" in chosen
    downloaded = client.get(f"{url}/versions/2/file?download=1")
    assert downloaded.status_code == 200 and downloaded.data == docx("Αποφασίζουμε", "τη χορήγηση")
    assert "attachment" in downloaded.headers["Content-Disposition"]

    # Restore version 2: it becomes version 4 with the same bytes.
    restored = client.post(f"{url}/versions/2/restore", data={"_csrf": CSRF})
    assert restored.status_code == 302
    assert "Η έκδοση 2 είναι ξανά η τρέχουσα, ως έκδοση 4." in client.get(url).get_data(as_text=True)
    assert client.get(f"{url}/versions/4/file").data == docx("Αποφασίζουμε", "τη χορήγηση")
    assert client.post(f"{url}/versions/9/restore", data={"_csrf": CSRF}).status_code == 404
    assert _count(db_session, OutgoingVersion) == 4

    # Attachments: a PNG and a PDF are taken; text is refused next to the field.
    refused = upload("notes.txt", b"just text", field="attachment", where="attachments")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="f-attachment-error"' in html and "Επισυνάψτε PDF, εικόνα" in html
    assert upload("", b"", field="attachment", where="attachments").status_code == 422
    assert _count(db_session, OutgoingAttachment) == 0
    assert upload("map.png", PNG, field="attachment", where="attachments").status_code == 302
    assert upload("plan.pdf", b"%PDF-1.7\n%%EOF", field="attachment", where="attachments").status_code == 302
    rows = db_session.scalars(select(OutgoingAttachment).order_by(OutgoingAttachment.filename)).all()
    assert [(r.filename, r.media_type) for r in rows] == [
        ("map.png", "image/png"),
        ("plan.pdf", "application/pdf"),
    ]
    assert client.get(f"{url}/attachments/{rows[0].id}").data == PNG
    removed = client.post(f"{url}/attachments/{rows[0].id}/remove", data={"_csrf": CSRF})
    assert removed.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "plan.pdf" in page and "map.png" not in page.split('id="attachments"')[1].split("</ul>")[0]
    assert "Αφαιρέθηκε συνημμένο" in page  # in the history

    # Someone else may not change the draft's files; once sent to the chain, nor may the author.
    sign_in(client, town.clerk_b)
    assert upload("x.png", PNG, field="attachment", where="attachments").status_code in (403, 404, 409)
    sign_in(client, town.clerk_a)
    assert client.post(f"{url}/submit", data={"_csrf": CSRF}).status_code == 302
    late = upload("late.png", PNG, field="attachment", where="attachments")
    assert late.status_code == 409
    assert client.post(f"{url}/attachments/{rows[1].id}/remove", data={"_csrf": CSRF}).status_code == 409
    assert _count(db_session, OutgoingAttachment) == 1
    assert 'id="f-attachment"' not in client.get(url).get_data(as_text=True)
