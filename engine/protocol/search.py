"""Searching the protocol book: filters, Greek accent-insensitive full text, keyset paging.

Subject words use the ``greek`` text-search configuration over unaccented text (the generated
``subject_tsv`` column); parties (sender, recipients, copies) use ``simple`` so names are not
stemmed. Results come newest first and are paged by the (registered_at, id) key, which stays
fast however deep the page. ΕΜΠ and ΠΔ entries are filtered out for users not cleared for them.

Entries whose contents the viewer may not see (engine/protocol/visibility.py) come back as
numbers only (``SearchPage.visible`` says which), and the filters on contents — words, parties,
case, classification — match only entries the viewer may see in full, so a search cannot be
used to learn whether someone has an entry elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, exists, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from core.clock import ATHENS
from engine.protocol.drafts import parse_direction
from engine.protocol.entries import get_registry
from engine.protocol.errors import InvalidEntry
from engine.protocol.models import Classification, Direction, EntryAssignment, ProtocolEntry
from engine.protocol.visibility import (
    Viewer,
    contents_filter,
    listed_for,
    visible_entry_ids,
)

MAX_PAGE = 200
#: Protocol numbers are PostgreSQL integers.
MAX_NUMBER = 2**31 - 1
#: Dates a search accepts: Athens midnight of the day after must still be a datetime.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)


class InvalidSearch(InvalidEntry):
    """A search parameter cannot be understood."""

    code = "protocol_invalid_search"


@dataclass(frozen=True)
class SearchQuery:
    """What to look for; every filter is optional and they combine with AND."""

    registry: str | None = None
    year: int | None = None
    number: int | None = None
    date_from: date | None = None  # Athens calendar days, both ends included
    date_to: date | None = None
    direction: Direction | None = None
    party: str | None = None
    text: str | None = None
    case_id: uuid.UUID | None = None
    case_number: str | None = None
    classification: str | None = None
    #: A department: entries it registered or that are assigned to it (χρέωση).
    unit: uuid.UUID | None = None
    include_cancelled: bool = True
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class SearchPage:
    """One page of results and the cursor of the next page (None on the last one)."""

    entries: list[ProtocolEntry]
    next_cursor: str | None
    #: Ids of the entries on the page whose contents the viewer may see; the rest are restricted.
    visible: frozenset[uuid.UUID] = frozenset()


def search(session: Session, query: SearchQuery, viewer: Viewer) -> SearchPage:
    """Entries matching the query that the viewer may see, newest first, one page."""
    limit = max(1, min(query.limit, MAX_PAGE))
    plain, words = _conditions(session, query, viewer)
    if query.cursor:
        at, entry_id = decode_cursor(query.cursor)
        plain.append(tuple_(ProtocolEntry.registered_at, ProtocolEntry.id) < (at, entry_id))
    if words:
        ids = _full_text_ids(session, plain, words, limit + 1)
        found = {
            entry.id: entry
            for entry in session.scalars(select(ProtocolEntry).where(ProtocolEntry.id.in_(ids)))
        }
        entries = [found[entry_id] for entry_id in ids]
    else:
        statement = select(ProtocolEntry).where(*plain).order_by(*NEWEST_FIRST).limit(_fixed(limit + 1))
        entries = list(session.scalars(statement))
    more = len(entries) > limit
    entries = entries[:limit]
    visible = frozenset(visible_entry_ids(session, (entry.id for entry in entries), viewer))
    return SearchPage(entries, encode_cursor(entries[-1]) if more else None, visible)


NEWEST_FIRST = (ProtocolEntry.registered_at.desc(), ProtocolEntry.id.desc())
#: How many of the newest candidate rows the first full-text attempt walks through.
PROBE_ROWS = 5_000

#: A full-text condition: the tsvector column's name and the query to match it with.
Words = tuple[str, ColumnElement[Any]]


def _full_text_ids(
    session: Session, plain: list[ColumnElement[bool]], words: list[Words], wanted: int
) -> list[uuid.UUID]:
    """Ids of full-text matches, newest first, fast whether the words are common or rare.

    PostgreSQL guesses 0.5 % for a word its statistics never saw, and a wrong guess costs
    seconds on a million rows either way: walking the time index for a rare word, or
    collecting and sorting every match of a common one. So the page is first looked for
    among the newest PROBE_ROWS candidates (a bounded walk of the time index, enough for
    common words); if that yields less than a page the words are rare, and their GIN
    matches are collected and sorted.
    """
    columns = {name for name, _ in words}
    newest = (
        select(
            ProtocolEntry.id, ProtocolEntry.registered_at, *(getattr(ProtocolEntry, name) for name in columns)
        )
        .where(*plain)
        .order_by(*NEWEST_FIRST)
        .limit(_fixed(PROBE_ROWS))
        .subquery("newest")
    )
    probe = (
        select(newest.c.id)
        .where(*(newest.c[name].bool_op("@@")(tsquery) for name, tsquery in words))
        .order_by(newest.c.registered_at.desc(), newest.c.id.desc())
        .limit(_fixed(wanted))
    )
    ids = list(session.scalars(probe))
    if len(ids) == wanted:
        return ids
    matches = (
        select(ProtocolEntry.id, ProtocolEntry.registered_at)
        .where(*plain, *(getattr(ProtocolEntry, name).bool_op("@@")(tsquery) for name, tsquery in words))
        .cte("matches")
        .prefix_with("MATERIALIZED")  # collect every match through the GIN index, then sort
    )
    ordered = (
        select(matches.c.id)
        .order_by(matches.c.registered_at.desc(), matches.c.id.desc())
        .limit(_fixed(wanted))
    )
    return list(session.scalars(ordered))


def _fixed(count: int) -> ColumnElement[int]:
    """A LIMIT written into the SQL: psycopg prepares repeated statements, and PostgreSQL's
    generic plan for ``LIMIT $n`` does not know the page is small, so it sorts every match
    instead of walking the time index (50 ms instead of 1 ms on a million entries)."""
    return literal(count, Integer, literal_execute=True)


def _conditions(
    session: Session, query: SearchQuery, viewer: Viewer
) -> tuple[list[ColumnElement[bool]], list[Words]]:
    """The query's conditions: plain ones (B-tree friendly) and full-text ones."""
    conditions: list[ColumnElement[bool]] = [listed_for(viewer.clearance)]
    words: list[Words] = []
    if query.registry:
        conditions.append(ProtocolEntry.registry_id == get_registry(session, query.registry).id)
    if query.year is not None:
        conditions.append(ProtocolEntry.year == query.year)
    if query.number is not None:
        conditions.append(ProtocolEntry.number == query.number)
    if query.date_from is not None:
        conditions.append(ProtocolEntry.registered_at >= athens_midnight(query.date_from))
    if query.date_to is not None:
        conditions.append(ProtocolEntry.registered_at < athens_midnight(query.date_to + timedelta(days=1)))
    if query.direction is not None:
        conditions.append(ProtocolEntry.direction == query.direction.value)
    if query.text and query.text.strip():
        words.append(("subject_tsv", func.websearch_to_tsquery("greek", func.polis_unaccent(query.text))))
    if query.party and query.party.strip():
        words.append(("parties_tsv", func.plainto_tsquery("simple", func.polis_unaccent(query.party))))
    if query.case_id is not None:
        conditions.append(ProtocolEntry.case_id == query.case_id)
    if query.case_number:
        conditions.append(ProtocolEntry.case_number == query.case_number)
    if query.classification:
        conditions.append(ProtocolEntry.classification == query.classification)
    if query.unit is not None:
        conditions.append(
            or_(
                ProtocolEntry.unit_id == query.unit,
                exists().where(
                    EntryAssignment.entry_id == ProtocolEntry.id, EntryAssignment.department_id == query.unit
                ),
            )
        )
    if not query.include_cancelled:
        conditions.append(ProtocolEntry.cancelled_at.is_(None))
    # Filters on contents match only what the viewer may read: who holds an entry is contents too.
    if words or query.case_id is not None or query.case_number or query.classification or query.unit:
        conditions.append(contents_filter(session, viewer))
    return conditions, words


def athens_midnight(day: date) -> datetime:
    """The first moment of a calendar day in Athens."""
    return datetime.combine(day, time(0), tzinfo=ATHENS)


def encode_cursor(entry: ProtocolEntry) -> str:
    """An opaque token for the position after this entry."""
    raw = f"{entry.registered_at.isoformat()}|{entry.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (registered_at, id) position a cursor stands for."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, entry_id = raw.split("|")
        return datetime.fromisoformat(at), uuid.UUID(entry_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidSearch("cursor: use the next_cursor value of the previous page as it is.") from exc


def query_from_params(params: Mapping[str, Any]) -> SearchQuery:
    """Build a query from URL parameters (all text), with errors naming the parameter."""
    problems: dict[str, str] = {}

    def whole(name: str, least: int, most: int) -> int | None:
        value = params.get(name)
        if value in (None, ""):
            return None
        text = str(value).strip()
        # Bounded before int(): a 10**30 "number" must be refused, not overflow a column.
        if len(text) > 12 or not text.lstrip("-").isdigit() or not least <= int(text) <= most:
            problems[name] = f"{name} must be a whole number from {least} to {most}."
            return None
        return int(text)

    def day(name: str) -> date | None:
        value = params.get(name)
        if value in (None, ""):
            return None
        try:
            moment = date.fromisoformat(str(value))
        except ValueError:
            problems[name] = f"{name} must be a date written YYYY-MM-DD."
            return None
        if not EARLIEST_DAY <= moment <= LATEST_DAY:
            problems[name] = f"{name} must be a date from {EARLIEST_DAY} to {LATEST_DAY}."
            return None
        return moment

    direction = None
    if params.get("direction"):
        try:
            direction = parse_direction(params["direction"])
        except InvalidEntry as exc:
            problems["direction"] = exc.message
    case_id = None
    if params.get("case_id"):
        try:
            case_id = uuid.UUID(str(params["case_id"]))
        except ValueError:
            problems["case_id"] = "case_id must be a case id (UUID)."
    unit = None
    if params.get("unit"):
        try:
            unit = uuid.UUID(str(params["unit"]))
        except ValueError:
            problems["unit"] = "unit must be a department id (UUID)."
    classification = params.get("classification") or None
    if classification and classification not in {mark.value for mark in Classification}:
        problems["classification"] = "classification must be one of ΠΧ, ΕΜΠ, ΠΔ."
    query = SearchQuery(
        registry=params.get("registry") or None,
        year=whole("year", 1, 9999),
        number=whole("number", 1, MAX_NUMBER),
        date_from=day("date_from"),
        date_to=day("date_to"),
        direction=direction,
        party=params.get("party") or None,
        text=params.get("q") or params.get("text") or None,
        case_id=case_id,
        case_number=params.get("case_number") or None,
        classification=classification,
        unit=unit,
        include_cancelled=str(params.get("include_cancelled", "true")).lower() not in {"0", "false", "no"},
        cursor=params.get("cursor") or None,
    )
    limit = whole("limit", 1, MAX_PAGE)
    if problems:
        raise InvalidSearch(" ".join(problems.values()), fields=problems)
    return replace(query, limit=limit) if limit is not None else query
