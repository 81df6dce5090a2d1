"""Daily anchors: the heads of every case's audit chain and of the protocol register, hashed
together and timestamped (RFC 3161) by the TSA, so a rewrite is detectable without trusting
the database.

The audit chain (engine/workflow/audit.py) is unkeyed and its head lives in the ``cases`` row: whoever
owns the tables can rewrite a chain consistently (every hash recomputed, the head updated) and
``verify_audit`` would find nothing. An anchor records each chain's head — (seq, hash) — and
each protocol series' head — (last number, running hash of the registered content) — plus the
previous anchor's digest, and has the TSA sign the SHA-256 of that document together with its
own clock. The TSA's signature cannot be made afterwards, so :func:`verify_anchors` can tell,
for every anchor, whether the document still hashes to what the TSA signed, whether the anchors
still follow each other, and whether the chains and the register still lead to the anchored
heads: anything rewritten before the last anchor is reported. Keep the printed digests (or the
tokens) somewhere else too: deleting every anchor is the one thing the database owner can still
do, and a digest kept outside shows it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import procrastinate
from sqlalchemy import BigInteger, DateTime, Identity, LargeBinary, String, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from core.errors import ConfigurationError
from core.orm import Base
from core.settings import Settings, get_settings
from engine.protocol.models import ProtocolEntry, Registry
from engine.workflow.audit import event_hash
from engine.workflow.case_store import TIMER_QUEUE
from engine.workflow.models import AuditEvent, Case
from signing.config import demo_pki_for, trust_roots_for
from signing.timestamps import check_timestamp, timestamp_digest, token_time

#: Asks the TSA for a token over a SHA-256 digest (signing.timestamps.timestamp_digest).
Stamp = Callable[[bytes], bytes]


@dataclass(frozen=True)
class TokenCheck:
    """What checking a token said: it covers the digest (intact), from a trusted TSA, at a time."""

    intact: bool
    trusted: bool
    at: datetime | None


#: Checks a token against a digest (signing.timestamps.check_timestamp with the trust roots).
CheckToken = Callable[[bytes, bytes], TokenCheck]


class AuditAnchor(Base):
    """One anchor: the heads, their digest and the TSA's token over it. Append-only."""

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    heads: Mapped[dict[str, Any]] = mapped_column(JSONB)
    digest: Mapped[str] = mapped_column(String(64))
    tsa_token: Mapped[bytes] = mapped_column(LargeBinary)
    tsa_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def canonical(heads: dict[str, Any]) -> bytes:
    """The bytes that are hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(heads, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def case_heads(session: Session) -> dict[str, list[Any]]:
    """Each case's chain head as the cases table holds it: {case id: [seq, hash]}."""
    rows = session.execute(select(Case.id, Case.audit_seq, Case.audit_hash).where(Case.audit_seq > 0))
    return {str(row.id): [row.audit_seq, row.audit_hash] for row in rows}


_ENTRY_CONTENT = (
    ProtocolEntry.number,
    ProtocolEntry.registered_at,
    ProtocolEntry.direction,
    ProtocolEntry.subject,
    ProtocolEntry.sender,
    ProtocolEntry.sender_reference,
    ProtocolEntry.sender_date,
    ProtocolEntry.recipients,
    ProtocolEntry.copies,
    ProtocolEntry.attachments_count,
    ProtocolEntry.attachments_description,
    ProtocolEntry.delivery_method,
    ProtocolEntry.document_type,
    ProtocolEntry.classification,
    ProtocolEntry.registered_by_id,
    ProtocolEntry.corrects_id,
    ProtocolEntry.id,
)


def _entry_hash(previous: str, row: Any) -> str:
    """The running hash of a series after one entry: what the law says never changes, only."""
    content = [previous] + [
        value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value for value in row
    ]
    text = json.dumps(content, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def protocol_heads(session: Session, upto: dict[str, list[Any]] | None = None) -> dict[str, list[Any]]:
    """Each series' head: {"<registry>/<year>": [last number, running hash]}; with ``upto``,
    only the entries up to each series' anchored number (to check an anchor)."""
    heads: dict[str, list[Any]] = {}
    statement = (
        select(Registry.code, ProtocolEntry.year, *_ENTRY_CONTENT)
        .join(Registry, Registry.id == ProtocolEntry.registry_id)
        .order_by(Registry.code, ProtocolEntry.year, ProtocolEntry.number)
        .execution_options(yield_per=2000)
    )
    for row in session.execute(statement):
        series = f"{row[0]}/{row[1]}"
        if upto is not None and (series not in upto or row.number > upto[series][0]):
            continue
        previous = heads.get(series, [0, ""])[1]
        heads[series] = [row.number, _entry_hash(previous, tuple(row)[2:])]
    return heads


def current_heads(session: Session) -> dict[str, Any]:
    """What an anchor taken now would hold (without the link to the previous anchor)."""
    return {"cases": case_heads(session), "protocol": protocol_heads(session)}


def last_anchor(session: Session) -> AuditAnchor | None:
    """The newest anchor."""
    return session.scalars(select(AuditAnchor).order_by(AuditAnchor.id.desc()).limit(1)).first()


def take_anchor(session: Session, stamp: Stamp, *, token_time: Callable[[bytes], datetime]) -> AuditAnchor:
    """Hash every head together with the previous anchor's digest and have the TSA sign it."""
    previous = last_anchor(session)
    heads = current_heads(session) | {"previous": previous.digest if previous is not None else ""}
    raw = hashlib.sha256(canonical(heads)).digest()
    token = stamp(raw)
    anchor = AuditAnchor(heads=heads, digest=raw.hex(), tsa_token=token, tsa_time=token_time(token))
    session.add(anchor)
    session.flush()
    return anchor


@dataclass
class AnchorReport:
    """The outcome of verify_anchors: problems found, and what was checked."""

    anchors: int = 0
    last_anchored_at: datetime | None = None
    cases_checked: int = 0
    series_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing was found rewritten."""
        return not self.problems


def verify_anchors(session: Session, check_token: CheckToken) -> AnchorReport:
    """Check every anchor's token and link, then the chains and the register against the last one."""
    report = AnchorReport()
    previous_digest = ""
    last: AuditAnchor | None = None
    for anchor in session.scalars(select(AuditAnchor).order_by(AuditAnchor.id)):
        report.anchors += 1
        raw = hashlib.sha256(canonical(anchor.heads)).digest()
        where = f"anchor {anchor.id} ({anchor.tsa_time:%Y-%m-%d %H:%M} UTC)"
        if raw.hex() != anchor.digest:
            report.problems.append(f"{where}: its heads were changed after the TSA signed them")
        checked = check_token(anchor.tsa_token, bytes.fromhex(anchor.digest))
        if not checked.intact:
            report.problems.append(f"{where}: the TSA token does not cover this anchor")
        elif not checked.trusted:
            report.problems.append(f"{where}: the TSA token is not from a trusted time-stamping authority")
        if anchor.heads.get("previous", "") != previous_digest:
            report.problems.append(
                f"{where}: it does not follow the anchor before it (one was removed or replaced)"
            )
        previous_digest, last = anchor.digest, anchor
    if last is None:
        return report  # nothing to check against yet (report.anchors == 0)
    report.last_anchored_at = last.tsa_time
    _check_cases(session, last, report)
    _check_register(session, last, report)
    return report


def _chain(session: Session, case_id: uuid.UUID, upto: int) -> Iterator[tuple[int, str]]:
    """(seq, hash recomputed from the stored content) of a case's events up to ``upto``."""
    previous = ""
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id, AuditEvent.seq <= upto)
        .order_by(AuditEvent.seq)
    )
    for row in rows:
        digest = event_hash(
            previous,
            row.case_id,
            row.seq,
            row.at,
            row.actor_id,
            row.actor,
            row.action,
            row.task_id,
            row.details,
        )
        yield row.seq, digest
        previous = digest


def _check_cases(session: Session, anchor: AuditAnchor, report: AnchorReport) -> None:
    numbers = {row.id: row.number for row in session.execute(select(Case.id, Case.number))}
    when = f"{anchor.tsa_time:%Y-%m-%d %H:%M} UTC"
    for case_id, (seq, head) in anchor.heads.get("cases", {}).items():
        report.cases_checked += 1
        key = uuid.UUID(case_id)
        name = numbers.get(key, case_id)
        if key not in numbers:
            report.problems.append(f"case {case_id}: anchored on {when}, now deleted")
            continue
        reached = None
        for position, digest in _chain(session, key, seq):
            if position == seq:
                reached = digest
        if reached != head:
            report.problems.append(
                f"case {name}: its audit entries up to {seq} were rewritten or deleted after they were"
                f" anchored on {when}"
            )


def _check_register(session: Session, anchor: AuditAnchor, report: AnchorReport) -> None:
    anchored: dict[str, list[Any]] = anchor.heads.get("protocol", {})
    now = protocol_heads(session, upto=anchored)
    when = f"{anchor.tsa_time:%Y-%m-%d %H:%M} UTC"
    for series, head in anchored.items():
        report.series_checked += 1
        if now.get(series) != head:
            report.problems.append(
                f"protocol {series}: entries up to number {head[0]} were changed or removed after they"
                f" were anchored on {when}"
            )


def stamp_from_settings(settings: Settings) -> Stamp:
    """Timestamps from the configured TSA (POLIS_SIGNING_TSA_URL, or the demo PKI's)."""
    demo = demo_pki_for(settings)
    url = settings.signing_tsa_url or (demo.tsa_url if demo is not None else None)
    if not url:
        raise ConfigurationError(
            "Anchoring the audit log needs a time-stamping authority: set POLIS_SIGNING_TSA_URL."
        )
    return lambda digest: timestamp_digest(url, digest, timeout=settings.signing_timeout_seconds)


def checker_from_settings(settings: Settings) -> CheckToken:
    """Checks tokens against the configured trust roots (POLIS_SIGNING_TRUST_ROOTS, demo root).

    The roots are read at the first token: with no anchor yet there is nothing to trust, so a
    new installation whose signer is not configured yet can still verify its logs.
    """
    roots: list[Any] = []

    def check(token: bytes, digest: bytes) -> TokenCheck:
        if not roots:
            roots.extend(trust_roots_for(settings))
        result = check_timestamp(token, digest, roots)
        return TokenCheck(result.intact, result.trusted, result.at)

    return check


def anchor_now(session: Session, settings: Settings) -> AuditAnchor:
    """Take an anchor with the configured TSA (the worker's daily job and `polis audit anchor`)."""
    return take_anchor(session, stamp_from_settings(settings), token_time=token_time)


ANCHOR_TASK = "engine.anchor_audit"


def install_anchor_job(
    app: procrastinate.App, factory: sessionmaker[Session], settings: Settings | None = None
) -> None:
    """Add the daily anchor (the heads of every case chain and of the protocol register,
    timestamped) to the worker's ``app``."""

    @app.periodic(cron="30 2 * * *", periodic_id="audit-anchor")
    @app.task(name=ANCHOR_TASK, queue=TIMER_QUEUE, queueing_lock=ANCHOR_TASK)
    def anchor_audit(timestamp: int) -> None:
        with factory.begin() as session:
            taken = anchor_now(session, settings or get_settings())
        logging.getLogger(__name__).info("audit anchored at %s: %s", taken.tsa_time.isoformat(), taken.digest)
