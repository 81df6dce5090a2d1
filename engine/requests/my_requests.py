"""An applicant's own cases: listed and opened only by the account that submitted them."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Text, literal_column, select
from sqlalchemy.orm import Session

from engine.requests.tracking import Tracking, find_by_tracking_code, tracking_of
from engine.workflow.errors import CaseNotFound
from engine.workflow.models import Case, ProcessDefinition

#: A citizen's list shows at most this many cases, newest first.
MAX_LISTED = 200
#: The account id inside a case's applicant record, spelt as index ix_cases_applicant_account
#: is (a literal key: with a bound parameter for the key PostgreSQL could not use the index).
APPLICANT_ACCOUNT: ColumnElement[str] = Case.applicant.op("->>", return_type=Text)(
    literal_column("'applicant_id'")
)
_NOT_YOURS = "You have no request with this tracking code; check the code in your list of requests."


def applicant_cases(session: Session, applicant_id: uuid.UUID) -> list[tuple[str, Tracking]]:
    """(tracking code, public view) of every case the applicant submitted while signed in."""
    rows = session.execute(
        select(Case, ProcessDefinition.content_hash)
        .join(ProcessDefinition, ProcessDefinition.id == Case.definition_id)
        .where(APPLICANT_ACCOUNT.bool_op("=")(str(applicant_id)))
        .order_by(Case.created_at.desc())
        .limit(MAX_LISTED)
    )
    return [(case.tracking_code, tracking_of(session, case, content_hash)) for case, content_hash in rows]


def applicant_case(session: Session, applicant_id: uuid.UUID, tracking_code: str) -> Tracking:
    """The public view of one of the applicant's cases; CaseNotFound for anyone else's."""
    try:
        case = find_by_tracking_code(session, tracking_code)
    except CaseNotFound:
        raise CaseNotFound(_NOT_YOURS) from None
    if (case.applicant or {}).get("applicant_id") != str(applicant_id):
        # The same answer as an unknown code: a signed-in citizen cannot probe others' codes.
        raise CaseNotFound(_NOT_YOURS)
    return tracking_of(session, case)
