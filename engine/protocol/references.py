"""What a registration by a member of staff may point at: stored files and a case.

A registration is permanent, so what it refers to is checked before the number is taken:

* each file reference (``storage_key`` + ``sha256`` + ``size``) must name an object Polis
  stored and recorded with exactly that hash and size, and the store must still hold it with
  that hash — a made-up key or a wrong hash would put a false fingerprint into the register;
* a ``case_id`` (or ``case_number``) must name a case the registrar may see — otherwise an
  entry could be tied to another department's case and show up in its file;
  the case's number is taken from the case, never from the request.

Processes registering their own documents (engine service tasks) do not come through here:
they store the files themselves in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PermissionDenied
from engine.people.models import User
from engine.people.visibility import check_case_visible
from engine.protocol.drafts import EntryDraft, FileRef
from engine.protocol.errors import InvalidEntry
from engine.workflow.errors import CaseNotFound
from engine.workflow.models import Case
from storage.base import ObjectNotFound, ObjectStore
from storage.models import StoredObjectRecord


def check_references(session: Session, store: ObjectStore, draft: EntryDraft, registrar: User) -> EntryDraft:
    """The draft with its case number taken from its case, once files and case check out."""
    check_files_held(session, store, draft.files)
    return _with_visible_case(session, draft, registrar)


def check_files_held(session: Session, store: ObjectStore, files: Sequence[FileRef]) -> None:
    """Refuse file references that Polis did not store with exactly that hash and size."""
    if not files:
        return
    keys = [ref.storage_key for ref in files]
    records = {
        record.key: record
        for record in session.scalars(select(StoredObjectRecord).where(StoredObjectRecord.key.in_(keys)))
    }
    problems: dict[str, str] = {}
    for index, ref in enumerate(files):
        record = records.get(ref.storage_key)
        if record is None or record.sha256 != ref.sha256 or record.size != ref.size:
            problems[f"files[{index}]"] = (
                "No stored file has this storage_key with this sha256 and size; upload the file"
                " first and send the key, hash and size Polis answered with."
            )
            continue
        try:
            held = store.stat(record.key, record.version_id)
        except ObjectNotFound:
            held = None
        if held is None or held.sha256 != ref.sha256:
            problems[f"files[{index}]"] = (
                "The object store no longer holds this file with this sha256; upload it again."
            )
    if problems:
        raise InvalidEntry(" ".join(f"{name}: {text}" for name, text in problems.items()), fields=problems)


class CaseNotVisible(PermissionDenied):
    """The registrar may not see the case the entry would belong to."""

    code = "protocol_case_not_visible"


def _with_visible_case(session: Session, draft: EntryDraft, registrar: User) -> EntryDraft:
    """Resolve the draft's case (by id, else by number) and check the registrar may see it."""
    if draft.case_id is None and not draft.case_number:
        return draft
    if draft.case_id is not None:
        case = session.get(Case, draft.case_id)
    else:
        case = session.scalar(select(Case).where(Case.number == draft.case_number))
    if case is None:
        raise InvalidEntry(
            "case: no such case; give the id or number of an existing case, or leave it out.",
            fields={"case_id" if draft.case_id is not None else "case_number": "not found"},
        )
    if draft.case_number and draft.case_number != case.number:
        raise InvalidEntry(
            f"case_number {draft.case_number!r} is not the number of case {case.id}; send one of them.",
            fields={"case_number": "does not match case_id"},
        )
    try:
        check_case_visible(session, registrar, case)
    except (CaseNotFound, PermissionDenied) as exc:
        raise CaseNotVisible(
            f"Case {case.number} belongs to another department; only those who may see a case can"
            " register documents in it. Ask its department to register the document."
        ) from exc
    return replace(draft, case_id=case.id, case_number=case.number)
