"""An applicant's own cases: those the account submitted while signed in and, once the account's
email is verified, those submitted without signing in and confirmed from that same mailbox
(the emailed link was followed: whoever holds the address made them). Nobody else's."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Text, literal_column, or_, select
from sqlalchemy.orm import Session

from engine.people.applicants.models import Applicant
from engine.requests.models import PendingSubmission
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


def _yours(account: Applicant) -> ColumnElement[bool]:
    """Cases of ``account``: signed-in submissions, and confirmed ones of its verified address."""
    mine = APPLICANT_ACCOUNT.bool_op("=")(str(account.id))
    if account.email_verified_at is None or not account.email:
        return mine
    confirmed = select(PendingSubmission.case_id).where(
        PendingSubmission.email == account.email.lower(), PendingSubmission.case_id.is_not(None)
    )
    return or_(mine, Case.id.in_(confirmed))


def applicant_cases(session: Session, account: Applicant) -> list[tuple[str, Tracking]]:
    """(tracking code, public view) of every case of the applicant's, newest first."""
    rows = session.execute(
        select(Case, ProcessDefinition.content_hash)
        .join(ProcessDefinition, ProcessDefinition.id == Case.definition_id)
        .where(_yours(account))
        .order_by(Case.created_at.desc())
        .limit(MAX_LISTED)
    )
    return [(case.tracking_code, tracking_of(session, case, content_hash)) for case, content_hash in rows]


def applicant_case(session: Session, account: Applicant, tracking_code: str) -> Tracking:
    """The public view of one of the applicant's cases; CaseNotFound for anyone else's."""
    try:
        case = find_by_tracking_code(session, tracking_code)
    except CaseNotFound:
        raise CaseNotFound(_NOT_YOURS) from None
    if session.scalar(select(Case.id).where(Case.id == case.id, _yours(account))) is None:
        # The same answer as an unknown code: a signed-in citizen cannot probe others' codes.
        raise CaseNotFound(_NOT_YOURS)
    return tracking_of(session, case)
