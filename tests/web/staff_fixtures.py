"""Shared set-up of the staff API tests: an organisation, a deployed process, signed-in clients."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.accounts import session_fingerprint
from engine.people.models import User
from engine.people.tokens import create_token
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_directory
from engine.workflow.models import CaseTask
from tests.engine.conftest import Org, make_org
from web.auth.staff import FINGERPRINT_KEY

CSRF = "test-csrf-token"


@dataclass
class World:
    """An organisation with one document_approval case waiting for its clerk."""

    org: Org
    case_id: uuid.UUID
    case_number: str
    task_id: uuid.UUID


def build_world(session: Session) -> World:
    """Deploy the processes, create the organisation and start one case (flushed)."""
    deploy_directory(session)
    org = make_org(session)
    case = start_case(session, "document_approval", department_id=org.department.id, started_by=org.clerk)
    task_id = session.scalar(select(CaseTask.task_id).where(CaseTask.case_id == case.id))
    assert task_id is not None
    return World(org, case.id, case.number, task_id)


def sign_in(client: Any, user: User) -> dict[str, str]:
    """Sign ``user`` in by session cookie; the headers a cookie-session write must send."""
    with client.session_transaction() as session:
        session["user_id"] = str(user.id)
        session[FINGERPRINT_KEY] = session_fingerprint(
            user, client.application.extensions["polis"].settings.secret()
        )
        session["_csrf"] = CSRF
    return {"X-CSRF-Token": CSRF}


def bearer(session: Session, user: User, scopes: tuple[str, ...] = ("read", "write")) -> dict[str, str]:
    """An Authorization header with a new token of ``user``."""
    issued = create_token(session, user, f"test {uuid.uuid4().hex[:6]}", scopes=scopes)
    return {"Authorization": f"Bearer {issued.secret}"}
