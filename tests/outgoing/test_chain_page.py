"""The author's chain page without JavaScript: the organisation chart's chain is shown, rows are
moved, removed and added, "for opinion" steps and co-signers (decisions only) are set, the chain
is saved for the type and reused, and the draft is sent to it; refused edits (no signatory at the
end, co-signers on a letter, a person without a position, the person the document waits for)
say why and change nothing."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.outgoing.drafts import BodyInput, RecipientInput, create_draft
from engine.outgoing.models import ChainStep, OutgoingDocument, SavedChain
from engine.people.models import User
from storage.filesystem import FilesystemStore
from tests.outgoing.conftest import Municipality
from tests.web.staff_fixtures import CSRF, sign_in


def _draft(session: Session, town: Municipality, store: FilesystemStore, kind: str = "letter") -> Any:
    return create_draft(
        session,
        store,
        town.clerk_a,
        kind=kind,
        subject="Ενημέρωση για τα δημοτικά τέλη",
        recipients=[RecipientInput("external", "Περιφέρεια Κρήτης", email="p@crete.example.gr")],
        body=BodyInput(template_text="Σας ενημερώνουμε."),
    )


def _form(
    rows: list[tuple[uuid.UUID, str, int]], action: str, kind: str = "letter", **extra: str
) -> dict[str, str]:
    data = {"_csrf": CSRF, "kind": kind, "rows": str(len(rows)), "action": action, **extra}
    for i, (person, what, stage) in enumerate(rows):
        data |= {f"person_{i}": str(person), f"kind_{i}": what, f"stage_{i}": str(stage)}
    return data


def _selected(html: str) -> list[str]:
    """The people chosen in the editor's rows, in order."""
    return re.findall(r'<option value="([0-9a-f-]{36})" selected>', html)


def test_edit_save_reuse_and_send_the_chain(
    client: Any, db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    draft = _draft(db_session, town, object_store)
    url = f"/work/outgoing/{draft.id}/chain"
    sign_in(client, town.head_b)
    assert client.get(url).status_code == 403  # only the author
    sign_in(client, town.clerk_a)
    assert 'id="chain-link"' in client.get(f"/work/outgoing/{draft.id}").get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert _selected(page) == [str(town.head_a.id), str(town.director.id), str(town.mayor.id)]

    # Move the director up, then take the head of the department out, then add head B for opinion.
    chain = [(town.head_a.id, "sign", 1), (town.director.id, "sign", 2), (town.mayor.id, "sign", 3)]
    moved = client.post(url, data=_form(chain, "up:1")).get_data(as_text=True)
    assert _selected(moved) == [str(town.director.id), str(town.head_a.id), str(town.mayor.id)]
    removed = client.post(url, data=_form(chain, "remove:0")).get_data(as_text=True)
    assert _selected(removed) == [str(town.director.id), str(town.mayor.id)]
    with_opinion = [(town.head_b.id, "opinion", 1), (town.director.id, "sign", 2), (town.mayor.id, "sign", 3)]
    added = client.post(url, data=_form(with_opinion, "add")).get_data(as_text=True)
    assert _selected(added)[0] == str(town.head_b.id) and 'value="opinion" selected' in added

    # Refused: the signatory's step is "for opinion"; two people in one step of a letter.
    last_opinion = [(town.director.id, "sign", 1), (town.mayor.id, "opinion", 2)]
    refused = client.post(url, data=_form(last_opinion, "submit"))
    assert refused.status_code == 422
    assert "Η αλυσίδα δεν έγινε δεκτή" in refused.get_data(as_text=True)
    parallel = [(town.head_a.id, "sign", 1), (town.director.id, "sign", 1), (town.mayor.id, "sign", 2)]
    refused = client.post(url, data=_form(parallel, "check"), headers={"Accept-Language": "en"})
    assert refused.status_code == 422 and "Only decisions have co-signers in parallel" in refused.get_data(
        as_text=True
    )
    # A person without a position (no unit, no position) cannot be put in the chain.
    loose = User(
        username=f"loose-{uuid.uuid4().hex[:6]}", full_name="Χωρίς Θέση", email="x@example.gr", roles=[]
    )
    db_session.add(loose)
    db_session.flush()
    refused = client.post(url, data=_form([(loose.id, "sign", 1), (town.mayor.id, "sign", 2)], "submit"))
    assert refused.status_code == 422 and "Χωρίς Θέση" in refused.get_data(as_text=True)
    assert str(loose.id) not in client.get(url).get_data(as_text=True)  # never offered
    db_session.expire_all()
    assert db_session.get(OutgoingDocument, draft.id).status == "draft"  # type: ignore[union-attr]
    assert db_session.scalars(select(ChainStep).where(ChainStep.document_id == draft.id)).all() == []

    # Save it for letters under a name, then reuse it on another draft.
    refused = client.post(url, data=_form(with_opinion, "save", name=" "))
    assert refused.status_code == 422 and 'id="f-name-error"' in refused.get_data(as_text=True)
    saved = client.post(url, data=_form(with_opinion, "save", name="Με γνώμη Τμήματος Β"))
    assert saved.status_code == 302
    row = db_session.scalars(select(SavedChain).where(SavedChain.unit_id == town.a.id)).one()
    assert [s["kind"] for s in row.steps] == ["opinion", "sign", "sign"]
    other = _draft(db_session, town, object_store)
    loaded = client.post(
        f"/work/outgoing/{other.id}/chain",
        data={"_csrf": CSRF, "kind": "letter", "rows": "0", "action": "load", "saved": str(row.id)},
    ).get_data(as_text=True)
    assert "Με γνώμη Τμήματος Β" in loaded
    assert _selected(loaded) == [str(town.head_b.id), str(town.director.id), str(town.mayor.id)]
    bad = client.post(
        f"/work/outgoing/{other.id}/chain",
        data={"_csrf": CSRF, "kind": "letter", "rows": "0", "action": "load", "saved": str(uuid.uuid4())},
    )
    assert bad.status_code == 422 and 'id="f-saved-error"' in bad.get_data(as_text=True)

    # Send the first draft to the edited chain: head B gives an opinion first.
    sent = client.post(url, data=_form(with_opinion, "submit"))
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"/work/outgoing/{draft.id}")
    db_session.expire_all()
    steps = db_session.scalars(
        select(ChainStep).where(ChainStep.document_id == draft.id).order_by(ChainStep.stage)
    ).all()
    assert [(s.person_id, s.kind, s.state) for s in steps] == [
        (town.head_b.id, "opinion", "current"),
        (town.director.id, "sign", "waiting"),
        (town.mayor.id, "sign", "waiting"),
    ]


def test_co_signers_of_a_decision_and_removing_people_from_the_running_chain(
    client: Any, db_session: Session, town: Municipality, object_store: FilesystemStore
) -> None:
    draft = _draft(db_session, town, object_store, kind="decision")
    url = f"/work/outgoing/{draft.id}/chain"
    sign_in(client, town.clerk_a)
    assert "Όσοι έχουν τον ίδιο αριθμό βήματος" in client.get(url).get_data(as_text=True)
    chain = [
        (town.head_a.id, "sign", 1),
        (town.head_b.id, "sign", 1),
        (town.director.id, "sign", 2),
        (town.mayor.id, "sign", 3),
    ]
    assert client.post(url, data=_form(chain, "submit", kind="decision")).status_code == 302
    db_session.expire_all()
    current = db_session.scalars(
        select(ChainStep.person_id).where(ChainStep.document_id == draft.id, ChainStep.state == "current")
    ).all()
    assert set(current) == {town.head_a.id, town.head_b.id}

    running = client.get(url).get_data(as_text=True)
    assert 'id="running"' in running and 'id="chain-editor"' not in running
    # The document waits for head A now: removing them is refused and nothing changes.
    refused = client.post(f"{url}/remove", data={"_csrf": CSRF, "person": str(town.head_a.id)})
    assert refused.status_code == 409
    assert "Το έγγραφο περιμένει τώρα αυτό το πρόσωπο" in refused.get_data(as_text=True)
    refused = client.post(f"{url}/remove", data={"_csrf": CSRF, "person": str(town.mayor.id)})
    assert refused.status_code == 422 and "υπογράφων δεν μπορεί να αφαιρεθεί" in refused.get_data(
        as_text=True
    )
    # The director, not reached yet, can be taken out: after both co-signers the mayor signs.
    assert (
        client.post(f"{url}/remove", data={"_csrf": CSRF, "person": str(town.director.id)}).status_code == 302
    )
    for person in (town.head_a, town.head_b):
        sign_in(client, person)
        assert client.post(f"/work/outgoing/{draft.id}/approve", data={"_csrf": CSRF}).status_code == 302
    db_session.expire_all()
    states = dict(
        db_session.execute(
            select(ChainStep.person_id, ChainStep.state).where(ChainStep.document_id == draft.id)
        ).all()
    )
    assert states[town.director.id] == "closed" and states[town.mayor.id] == "current"
    assert db_session.get(OutgoingDocument, draft.id).status == "to_sign"  # type: ignore[union-attr]
