"""The signature chain as data: ordered stages of people ("to sign" or "for opinion"),
co-signers in parallel within a stage, the signatory alone in the last stage.

``processes/outgoing_document.bpmn`` loops over the stages: each pass of "Review the draft"
is one stage, "Sign the document" is the signatory's. This module decides who is next and
gives the waiting task to that person — or to whoever stands in for them today
(engine.people.substitutions) — and records every step, comment and reservation. A return
closes the round; the author's resubmission starts a new round from the first stage.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.workdays import due_date
from engine.outgoing.drafts import get_document, latest_version, recipients_of
from engine.outgoing.errors import DraftInvalid, NotYourTurn, WrongState
from engine.outgoing.history import record
from engine.outgoing.models import (
    ChainStep,
    OutgoingDocument,
    OutgoingKind,
    OutgoingStatus,
    Reservation,
    SavedChain,
    StepKind,
    StepState,
)
from engine.people.models import Department, Position, Substitution, User
from engine.people.substitutions import athens_today
from engine.workflow.commands import complete_task, start_case
from engine.workflow.models import CaseTask

PROCESS_ID = "outgoing_document"
#: Working days each step may take before the delay is recorded (the SLA), by step kind.
STEP_SLA_DAYS = {StepKind.OPINION.value: 3, StepKind.SIGN.value: 2}
#: Document types whose chain may hold co-signers in parallel (a decision signed by two
#: deputy mayors, for instance); for the others every stage has one person.
PARALLEL_KINDS = frozenset({OutgoingKind.DECISION.value})
CHAIN_TASKS = ("review", "sign", "revise")


@dataclass(frozen=True)
class StepSpec:
    """One person in a chain: who, what they do, and their stage (same stage = in parallel)."""

    person_id: uuid.UUID
    kind: str = StepKind.SIGN.value
    stage: int = 1


def default_chain(session: Session, author: User) -> list[StepSpec]:
    """Author → head of the department → director → signatory, from the organisation chart.

    The heads of the author's unit and of the units above it, in order, stopping at the first
    unit where someone holds a position with delegated signature (δικαίωμα υπογραφής), who
    signs; without one, the head of the topmost unit signs.
    """
    people: list[uuid.UUID] = []
    unit = session.get(Department, author.department_id) if author.department_id else None
    seen: set[uuid.UUID] = set()
    while unit is not None and unit.id not in seen:
        seen.add(unit.id)
        delegated = session.scalar(
            select(Position.user_id).where(
                Position.unit_id == unit.id,
                Position.delegated_signature.is_(True),
                Position.ended_at.is_(None),
            )
        )
        if (
            unit.head_user_id is not None
            and unit.head_user_id != author.id
            and unit.head_user_id not in people
        ):
            people.append(unit.head_user_id)
        if delegated is not None:
            if delegated in people:
                people.remove(delegated)
            people.append(delegated)
            break
        unit = session.get(Department, unit.parent_id) if unit.parent_id else None
    return [StepSpec(person, StepKind.SIGN.value, stage) for stage, person in enumerate(people, start=1)]


def check_chain(session: Session, kind: str, steps: Sequence[StepSpec]) -> list[StepSpec]:
    """The chain in stage order, or DraftInvalid saying what to fix."""
    if not steps:
        raise DraftInvalid("chain: add at least the signatory.", fields={"chain": "empty"}, reason="empty")
    ordered = sorted(steps, key=lambda s: s.stage)
    stages = sorted({s.stage for s in ordered})
    last = [s for s in ordered if s.stage == stages[-1]]
    problems: dict[str, str] = {}
    # Why, as a code pages word in the reader's language (the last problem found), and whom.
    why: tuple[str, str] = ("", "")
    if len(last) != 1 or last[0].kind != StepKind.SIGN.value:
        problems["chain"] = "the last step is one signatory, alone, to sign"
        why = ("last_not_sign", "")
    if len({s.person_id for s in ordered}) != len(ordered):
        problems["chain"] = "a person appears twice in the chain"
        why = ("twice", "")
    if kind not in PARALLEL_KINDS and len(stages) != len(ordered):
        problems["chain"] = "only decisions have co-signers in parallel; give every person their own step"
        why = ("no_parallel", "")
    if any(s.kind not in (StepKind.SIGN.value, StepKind.OPINION.value) for s in ordered):
        problems["chain"] = "each step is to sign or for opinion"
        why = ("step_kind", "")
    people = {
        u.id: u for u in session.scalars(select(User).where(User.id.in_([s.person_id for s in ordered])))
    }
    placed = set(
        session.scalars(
            select(Position.user_id).where(
                Position.user_id.in_([s.person_id for s in ordered]), Position.ended_at.is_(None)
            )
        )
    )
    for s in ordered:
        person = people.get(s.person_id)
        if person is None or not person.is_active:
            problems["chain"] = (
                f"{person.full_name if person else s.person_id} cannot take part (no active account)"
            )
            why = ("inactive", person.full_name if person else str(s.person_id))
        elif person.department_id is None and person.id not in placed:
            problems["chain"] = (
                f"{person.full_name} holds no position in the organisation; choose someone who does"
            )
            why = ("no_position", person.full_name)
    if problems:
        raise DraftInvalid(
            "; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems, reason=why[0], person=why[1]
        )
    # Stages renumbered 1..n: gaps in what the page sent mean nothing.
    renumber = {stage: n for n, stage in enumerate(stages, start=1)}
    return [StepSpec(s.person_id, s.kind, renumber[s.stage]) for s in ordered]


def save_chain(session: Session, user: User, kind: str, name: str, steps: Sequence[StepSpec]) -> SavedChain:
    """Keep a chain for reuse with this document type in the user's unit (same name: replaced)."""
    checked = check_chain(session, kind, steps)
    name = name.strip()
    if not name:
        raise DraftInvalid("name: give the saved chain a name.", fields={"name": "required"})
    row = session.scalars(
        select(SavedChain).where(
            SavedChain.unit_id == user.department_id, SavedChain.kind == kind, SavedChain.name == name
        )
    ).one_or_none()
    data = [{"person_id": str(s.person_id), "kind": s.kind, "stage": s.stage} for s in checked]
    if row is None:
        row = SavedChain(
            kind=kind, name=name[:200], unit_id=user.department_id, steps=data, created_by_id=user.id
        )
        session.add(row)
    else:
        row.steps = data
    session.flush()
    return row


def saved_chains(session: Session, user: User, kind: str) -> list[SavedChain]:
    """The chains saved in the user's unit for this document type."""
    return list(
        session.scalars(
            select(SavedChain)
            .where(SavedChain.unit_id == user.department_id, SavedChain.kind == kind)
            .order_by(SavedChain.name)
        )
    )


def steps_of(saved: SavedChain) -> list[StepSpec]:
    """A saved chain as steps."""
    return [StepSpec(uuid.UUID(s["person_id"]), s["kind"], int(s["stage"])) for s in saved.steps]


def submit(
    session: Session, document_id: uuid.UUID, author: User, steps: Sequence[StepSpec] | None = None
) -> list[ChainStep]:
    """The author sends the draft to the chain (a new round); returns the round's steps."""
    document = get_document(session, document_id, lock=True)
    if document.author_id != author.id:
        raise NotYourTurn("Only the author submits a draft to its chain.")
    if document.status not in (OutgoingStatus.DRAFT.value, OutgoingStatus.RETURNED.value):
        raise WrongState("The draft is already with the chain; wait for it or for a return.")
    problems: dict[str, str] = {}
    if latest_version(session, document.id) is None:
        problems["body"] = "save the body (upload a file or write it from the template) first"
    if not [r for r in recipients_of(session, document.id) if not r.for_information]:
        problems["recipients"] = "add at least one recipient"
    if problems:
        raise DraftInvalid("; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)
    checked = check_chain(
        session, document.kind, steps if steps is not None else default_chain(session, author)
    )
    now = utcnow()
    document.round += 1
    rows = [
        ChainStep(
            id=uuid.uuid4(),
            document_id=document.id,
            round=document.round,
            stage=s.stage,
            person_id=s.person_id,
            kind=s.kind,
            state=StepState.WAITING.value,
        )
        for s in checked
    ]
    session.add_all(rows)
    session.flush()
    first = _start_stage(session, document, 1, now)
    data = {"next_step": _next_step(session, document, 1), "step_due_at": first.isoformat()}
    if document.case_id is None:
        case = start_case(
            session,
            PROCESS_ID,
            department_id=document.unit_id,
            started_by=author,
            data={"document_id": str(document.id), "subject": document.subject, **data},
        )
        document.case_id = case.id
    else:
        task = open_task(session, document, "revise")
        give_task(session, task, author)
        complete_task(session, task.task_id, data, author, owner="outgoing")
    document.status = (
        OutgoingStatus.TO_SIGN.value if data["next_step"] == "sign" else OutgoingStatus.IN_CHAIN.value
    )
    session.flush()
    _route(session, document)
    record(session, document.id, author, "submitted", round=document.round, people=len(rows))
    return rows


def _stage_steps(session: Session, document: OutgoingDocument, stage: int) -> list[ChainStep]:
    return list(
        session.scalars(
            select(ChainStep)
            .where(
                ChainStep.document_id == document.id,
                ChainStep.round == document.round,
                ChainStep.stage == stage,
            )
            .order_by(ChainStep.id)
        )
    )


def round_steps(session: Session, document_id: uuid.UUID, round_: int | None = None) -> list[ChainStep]:
    """The steps of a round (the current one by default), in order."""
    if round_ is None:
        round_ = get_document(session, document_id).round
    return list(
        session.scalars(
            select(ChainStep)
            .where(ChainStep.document_id == document_id, ChainStep.round == round_)
            .order_by(ChainStep.stage, ChainStep.id)
        )
    )


def _last_stage(session: Session, document: OutgoingDocument) -> int:
    return max(s.stage for s in round_steps(session, document.id))


def _next_step(session: Session, document: OutgoingDocument, stage: int) -> str:
    return "sign" if stage == _last_stage(session, document) else "review"


def _start_stage(session: Session, document: OutgoingDocument, stage: int, now: datetime) -> datetime:
    """Make the stage's steps current with their SLA; returns the earliest due time."""
    dues = []
    for step in _stage_steps(session, document, stage):
        if step.state != StepState.WAITING.value:
            continue  # removed from the chain by the author
        step.state = StepState.CURRENT.value
        step.started_at = now
        step.due_at = due_date(now, STEP_SLA_DAYS[step.kind])
        dues.append(step.due_at)
    session.flush()
    return min(dues)


def stand_in_for(session: Session, person_id: uuid.UUID, today: date | None = None) -> uuid.UUID | None:
    """Who stands in today for this person (a running dated substitution), if anyone."""
    day = today or athens_today()
    return session.scalar(
        select(Substitution.substitute_user_id)
        .where(
            Substitution.head_user_id == person_id,
            Substitution.cancelled_at.is_(None),
            Substitution.starts_on <= day,
            Substitution.ends_on >= day,
        )
        .order_by(Substitution.starts_on)
        .limit(1)
    )


def may_act_for(session: Session, user: User, step: ChainStep) -> bool:
    """The step's person, their running substitute, or someone acting in their position."""
    if not user.is_active:
        return False
    if user.id == step.person_id or getattr(user, "acting_for_id", None) == step.person_id:
        return True
    return stand_in_for(session, step.person_id) == user.id


def open_task(session: Session, document: OutgoingDocument, bpmn_id: str) -> CaseTask:
    task = session.scalars(
        select(CaseTask).where(CaseTask.case_id == document.case_id, CaseTask.bpmn_id == bpmn_id)
    ).first()
    if task is None:
        raise WrongState("The document moved on meanwhile; refresh the page.")
    return task


def give_task(session: Session, task: CaseTask, person: User) -> None:
    """Put the waiting task in this person's inbox (the chain, not the lane, says who)."""
    role = "head" if "head" in person.roles else (person.roles[0] if person.roles else "clerk")
    session.execute(
        update(CaseTask)
        .where(CaseTask.task_id == task.task_id)
        .values(assignee_id=person.id, department_id=person.department_id, role=role)
    )
    session.expire(task)


def _route(session: Session, document: OutgoingDocument) -> None:
    """Give the case's waiting chain task to its person (or their substitute today)."""
    task = session.scalars(
        select(CaseTask).where(CaseTask.case_id == document.case_id, CaseTask.bpmn_id.in_(CHAIN_TASKS))
    ).first()
    if task is None:
        return
    if task.bpmn_id == "revise":
        person_id: uuid.UUID = document.author_id
    else:
        current = [s for s in round_steps(session, document.id) if s.state == StepState.CURRENT.value]
        if not current:
            return
        person_id = current[0].person_id
        person_id = stand_in_for(session, person_id) or person_id
    person = session.get(User, person_id)
    if person is not None:
        give_task(session, task, person)
        if task.due_at is None:
            due = min(
                (s.due_at for s in round_steps(session, document.id) if s.due_at and s.state == "current"),
                default=None,
            )
            session.execute(update(CaseTask).where(CaseTask.task_id == task.task_id).values(due_at=due))


def current_step_of(session: Session, document: OutgoingDocument, user: User) -> ChainStep:
    """The user's current step (as themselves or standing in); else NotYourTurn."""
    for step in round_steps(session, document.id):
        if step.state == StepState.CURRENT.value and may_act_for(session, user, step):
            return step
    raise NotYourTurn(
        "The document is not waiting for you (or for someone you stand in for); it may have moved on"
        " or you may have been removed from its chain. Refresh the page."
    )


def approve(
    session: Session,
    document_id: uuid.UUID,
    user: User,
    *,
    comment: str | None = None,
    reservation: str | None = None,
    reservation_kind: str = "reservation",
) -> ChainStep:
    """Approve one's step (with an optional comment and formal reservation); the chain moves on
    when the stage's last co-signer approves. The signatory signs instead (engine.outgoing.signature)."""
    document = get_document(session, document_id, lock=True)
    if document.status != OutgoingStatus.IN_CHAIN.value:
        raise WrongState("The document is not being reviewed now; refresh the page.")
    step = current_step_of(session, document, user)
    now = utcnow()
    step.state = StepState.APPROVED.value
    step.acted_at, step.acted_by_id = now, user.id
    step.comment = (comment or "").strip() or None
    if reservation and reservation.strip():
        add_reservation(session, document, step, user, reservation, reservation_kind)
    session.flush()
    record(
        session,
        document.id,
        user,
        "approved",
        step=str(step.id),
        comment=step.comment,
        for_person=str(step.person_id) if step.person_id != user.id else None,
    )
    if any(s.state == StepState.CURRENT.value for s in _stage_steps(session, document, step.stage)):
        return step  # co-signers of the stage still to approve
    nxt = min(
        s.stage
        for s in round_steps(session, document.id)
        if s.stage > step.stage and s.state == StepState.WAITING.value
    )  # stages whose people were all removed are skipped; the signatory's cannot be
    due = _start_stage(session, document, nxt, now)
    next_step = _next_step(session, document, nxt)
    task = open_task(session, document, "review")
    give_task(session, task, user)
    complete_task(
        session,
        task.task_id,
        {"next_step": next_step, "step_due_at": due.isoformat()},
        user,
        owner="outgoing",
    )
    if next_step == "sign":
        document.status = OutgoingStatus.TO_SIGN.value
    session.flush()
    _route(session, document)
    return step


def add_reservation(
    session: Session, document: OutgoingDocument, step: ChainStep, user: User, statement: str, kind: str
) -> Reservation:
    """A formal reservation or dissent that stays with the document."""
    if kind not in ("reservation", "dissent"):
        raise DraftInvalid(
            "reservation: choose reservation or dissent.", fields={"reservation_kind": "unknown"}
        )
    row = Reservation(
        document_id=document.id, step_id=step.id, person_id=user.id, kind=kind, statement=statement.strip()
    )
    session.add(row)
    session.flush()
    record(session, document.id, user, kind, statement=row.statement)
    return row


def return_to_author(session: Session, document_id: uuid.UUID, user: User, comment: str) -> ChainStep:
    """Send the draft back to the author with a comment; the round ends."""
    comment = (comment or "").strip()
    if not comment:
        raise DraftInvalid("comment: say what the author should change.", fields={"comment": "required"})
    document = get_document(session, document_id, lock=True)
    if document.status not in (OutgoingStatus.IN_CHAIN.value, OutgoingStatus.TO_SIGN.value):
        raise WrongState("The document is not with the chain now; refresh the page.")
    step = current_step_of(session, document, user)
    now = utcnow()
    step.state = StepState.RETURNED.value
    step.acted_at, step.acted_by_id, step.comment = now, user.id, comment
    for other in round_steps(session, document.id):
        if other.state in (StepState.WAITING.value, StepState.CURRENT.value):
            other.state = StepState.CLOSED.value
    session.flush()
    task = open_task(
        session, document, "sign" if document.status == OutgoingStatus.TO_SIGN.value else "review"
    )
    give_task(session, task, user)
    complete_task(
        session, task.task_id, {"next_step": "return", "return_comment": comment}, user, owner="outgoing"
    )
    document.status = OutgoingStatus.RETURNED.value
    document.pending_signature = None
    session.flush()
    _route(session, document)
    record(session, document.id, user, "returned", comment=comment)
    return step


def remove_from_chain(session: Session, document_id: uuid.UUID, author: User, person_id: uuid.UUID) -> None:
    """The author takes someone out of the chain's steps still ahead (not the current ones)."""
    document = get_document(session, document_id, lock=True)
    if document.author_id != author.id:
        raise NotYourTurn("Only the author changes the chain.")
    steps = round_steps(session, document.id)
    if document.status not in (OutgoingStatus.IN_CHAIN.value, OutgoingStatus.TO_SIGN.value):
        raise WrongState(
            "The document is not with its chain; change the chain before sending it.", reason="not_running"
        )
    target = [s for s in steps if s.person_id == person_id]
    if target and target[0].state == StepState.CURRENT.value:
        raise WrongState(
            "The document is waiting for this person now; ask them to return it, then change the chain.",
            reason="waiting_now",
        )
    if not target or target[0].state != StepState.WAITING.value:
        raise WrongState(
            "Only a step not yet reached can be removed; return the draft to change the rest.",
            reason="not_reached",
        )
    if target[0].stage == max(s.stage for s in steps):
        raise DraftInvalid(
            "chain: the signatory cannot be removed; return the draft and choose another.", reason="signatory"
        )
    target[0].state = StepState.CLOSED.value
    target[0].comment = "removed from the chain by the author"
    session.flush()
    record(session, document.id, author, "chain_changed", removed=str(person_id))


def signatory_step(session: Session, document: OutgoingDocument) -> ChainStep | None:
    """The signatory's step of the current round, if the chain reached it."""
    steps = round_steps(session, document.id)
    last = [s for s in steps if s.stage == max((x.stage for x in steps), default=0)]
    return last[0] if last else None


@dataclass(frozen=True)
class ChainEditor:
    """What the author's chain page needs: the document, the chain from the organisation chart,
    the unit's saved chains for its type, the people who may be chosen, and whether co-signers
    in parallel are allowed for the type."""

    document: OutgoingDocument
    default: list[StepSpec]
    saved: list[SavedChain]
    people: list[tuple[uuid.UUID, str]]
    parallel: bool


def chain_editor(session: Session, document_id: uuid.UUID, user: User) -> ChainEditor:
    """The chain page of a document, for its author only."""
    document = get_document(session, document_id)
    if document.author_id != user.id:
        raise NotYourTurn("Only the author changes the chain.")
    placed = select(Position.user_id).where(Position.ended_at.is_(None))
    rows = session.execute(
        select(User.id, User.full_name, Department.name_el)
        .outerjoin(Department, Department.id == User.department_id)
        .where(User.is_active.is_(True), (User.department_id.is_not(None)) | User.id.in_(placed))
        .order_by(User.full_name, User.id)
    ).all()
    people = [(row.id, f"{row.full_name} — {row.name_el}" if row.name_el else row.full_name) for row in rows]
    return ChainEditor(
        document=document,
        default=default_chain(session, user),
        saved=saved_chains(session, user, document.kind),
        people=people,
        parallel=document.kind in PARALLEL_KINDS,
    )


def saved_chain_of(session: Session, user: User, kind: str, saved_id: uuid.UUID) -> list[StepSpec]:
    """The steps of one of the unit's saved chains for this type (others are not the user's)."""
    for saved in saved_chains(session, user, kind):
        if saved.id == saved_id:
            return steps_of(saved)
    raise DraftInvalid("saved: choose one of your unit's saved chains.", fields={"saved": "unknown"})
