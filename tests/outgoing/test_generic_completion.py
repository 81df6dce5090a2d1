"""A step of an outgoing document's chain is completed only by engine.outgoing: the generic
task API refuses it with a clear reason (409 task_reserved, nothing changed) and the generic
task page's form sends the reader to the document's page instead."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.outgoing.chain import approve, submit
from engine.outgoing.drafts import BodyInput, RecipientInput, create_draft
from engine.outgoing.models import ChainStep, OutgoingDocument
from engine.workflow.commands import complete_task
from engine.workflow.errors import TaskReserved
from engine.workflow.models import CaseTask
from storage.filesystem import FilesystemStore
from tests.outgoing.conftest import Municipality, restored
from tests.web.staff_fixtures import CSRF, bearer, sign_in


def _waiting_for_head(session: Session, town: Municipality, store: FilesystemStore) -> tuple[Any, Any]:
    draft = create_draft(
        session,
        store,
        town.clerk_a,
        kind="letter",
        subject="Πρόσκληση σε σύσκεψη",
        recipients=[RecipientInput("external", "Περιφέρεια Κρήτης", email="p@crete.example.gr")],
        body=BodyInput(template_text="Σας καλούμε."),
    )
    submit(session, draft.id, town.clerk_a)
    restored(session)
    task = session.scalars(
        select(CaseTask).where(CaseTask.case_id == draft.case_id, CaseTask.bpmn_id == "review")
    ).one()
    return draft, task


def _unchanged(session: Session, draft: Any, task: Any) -> None:
    restored(session)
    assert session.get(OutgoingDocument, draft.id).status == "in_chain"  # type: ignore[union-attr]
    assert session.scalar(select(CaseTask.task_id).where(CaseTask.task_id == task.task_id)) is not None
    states = session.scalars(select(ChainStep.state).where(ChainStep.document_id == draft.id)).all()
    assert "approved" not in states


def test_the_engine_and_the_api_refuse_a_chain_step(
    client: Any, db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    draft, task = _waiting_for_head(db_session, town, object_store)
    with pytest.raises(TaskReserved) as refused:
        complete_task(db_session, task.task_id, {"next_step": "sign"}, town.head_a)
    assert refused.value.owner == "outgoing" and "its own page" in refused.value.message
    _unchanged(db_session, draft, task)

    answer = client.post(
        f"/api/v1/tasks/{task.task_id}/complete",
        json={"data": {"next_step": "sign"}},
        headers=bearer(db_session, town.head_a),
    )
    assert answer.status_code == 409, answer.get_data(as_text=True)
    assert answer.json["error"] == "task_reserved" and "generic task form" in answer.json["message"]
    _unchanged(db_session, draft, task)

    # Someone else's step is still refused as not theirs first (nothing about it leaks).
    other = client.post(
        f"/api/v1/tasks/{task.task_id}/complete",
        json={"data": {"next_step": "sign"}},
        headers=bearer(db_session, town.clerk_b),
    )
    assert other.status_code in (403, 409) and other.json["error"] != "task_reserved"

    # engine.outgoing itself still completes it.
    task_id = task.task_id
    approve(db_session, draft.id, town.head_a)
    restored(db_session)
    assert db_session.scalar(select(CaseTask).where(CaseTask.task_id == task_id)) is None


def test_the_generic_task_form_sends_the_reader_to_the_document_page(
    client: Any, db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    draft, task = _waiting_for_head(db_session, town, object_store)
    sign_in(client, town.head_a)
    posted = client.post(f"/work/tasks/{task.task_id}/complete", data={"_csrf": CSRF, "next_step": "sign"})
    assert posted.status_code == 302
    assert posted.headers["Location"].endswith(f"/work/outgoing/{draft.id}")
    page = client.get(posted.headers["Location"]).get_data(as_text=True)
    assert "εγκρίνεται, επιστρέφεται ή υπογράφεται στη σελίδα του εγγράφου" in page
    _unchanged(db_session, draft, task)
    client.post(
        f"/work/tasks/{task.task_id}/complete",
        data={"_csrf": CSRF, "next_step": "sign"},
        headers={"Accept-Language": "en"},
    )
    english = client.get(f"/work/outgoing/{draft.id}", headers={"Accept-Language": "en"})
    assert "is approved, returned or signed on the document" in english.get_data(as_text=True)
