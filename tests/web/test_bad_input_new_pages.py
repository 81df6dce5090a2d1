"""Bad input typed by hand at the pages added last (administration, the protocol register and
its entries, case-file ZIPs, outgoing documents, the contact form), as an administrator, a
clerk and someone not signed in: unknown ids, numbers beyond 64 bits, NUL bytes, very long
texts, wrong methods, a missing CSRF token. Every answer is below 500, a refusal is a page
(or JSON) in the reader's language, and nothing stored changes."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine.people.demo import seed_demo_municipality
from engine.people.models import User
from engine.workflow.definitions import deploy_directory
from tests.web.staff_fixtures import CSRF, sign_in

HUGE = "9223372036854775808"
LONG = "Α" * 20_000
NUL = "%00"
UNKNOWN = str(uuid.UUID(int=1))
#: What people typed into the address bar: each value for each parameter the pages read.
BAD_VALUES = (HUGE, "-1", LONG, f"x{NUL}y", "9999-99-99", "'; DROP TABLE cases; --", "<script>", "%ZZ")
POST_VALUES = (HUGE, LONG, f"x{NUL}y", "9999-99-99", "<script>")
QUERY_NAMES = (
    "q", "page", "version", "year", "number", "date_from", "date_to", "party", "direction", "unit",
    "cursor", "registry", "format", "download", "folder", "sort", "view", "user", "kind",
)  # fmt: skip
#: Form fields the administration's and the register's forms read.
FORM_NAMES = (
    "code", "name_el", "name_en", "parent", "username", "full_name", "email", "kind", "unit",
    "person", "position_unit", "position_kind", "title", "head", "substitute", "reason",
    "starts_on", "ends_on", "expires_on", "owner", "name", "scopes", "case_id", "subject",
    "text", "topic", "direction", "sender", "recipient", "note", "comment",
)  # fmt: skip

GET_PAGES = (
    "/admin",
    "/admin/people",
    "/admin/substitutions",
    "/admin/documents",
    "/admin/units/DHM",
    f"/admin/units/{'X' * 3000}",
    f"/admin/units/{HUGE}",
    "/admin/units/%00",
    "/admin/org/import",
    "/admin/processes",
    "/admin/processes/no_such_process",
    "/admin/processes/document_approval",
    f"/admin/processes/document_approval/{HUGE}/diagram.json",
    "/admin/processes/document_approval/0/diagram.json",
    f"/admin/processes/{'p' * 3000}/1/diagram.json",
    "/admin/timers",
    "/admin/incidents",
    "/admin/tokens",
    "/admin/services",
    "/work/protocol",
    "/work/protocol/book",
    f"/work/protocol/{UNKNOWN}",
    f"/work/protocol/{UNKNOWN}/receipt",
    f"/work/protocol/{UNKNOWN}/correct",
    f"/work/protocol/{UNKNOWN}/files/{HUGE}",
    f"/work/protocol/{UNKNOWN}/files/0",
    "/work/protocol/not-a-uuid",
    f"/work/cases/{UNKNOWN}/case-file.zip",
    f"/work/documents/{UNKNOWN}/case-file.zip",
    "/work/cases/not-a-uuid/case-file.zip",
    "/work/outgoing",
    "/work/outgoing/new",
    "/work/outgoing/sign",
    f"/work/outgoing/{UNKNOWN}",
    "/contact",
    "/services/contact",
    "/services/contact/apply",
)
POST_PATHS = (
    "/admin/units",
    "/admin/units/DHM/rename",
    "/admin/units/DHM/move",
    f"/admin/units/{UNKNOWN}/move",
    "/admin/org/import",
    "/admin/org/import/apply",
    f"/admin/timers/{'t' * 3000}/pause",
    "/admin/timers/no_such_process/resume",
    f"/admin/incidents/{HUGE}/retry",
    "/admin/incidents/2147483647/retry",
    "/admin/tokens",
    "/admin/tokens/not-a-uuid/revoke",
    f"/admin/tokens/{UNKNOWN}/revoke",
    "/admin/services/no_such_service/disable",
    "/admin/services/contact/explode",
    "/admin/people",
    f"/admin/people/{'u' * 3000}/deactivate",
    "/admin/people/nobody/reset-link",
    "/admin/positions",
    "/admin/substitutions",
    f"/admin/documents/{LONG[:3000]}/revoke",
    f"/work/incidents/{HUGE}/retry",
    f"/work/protocol/{UNKNOWN}/cancel",
    f"/work/protocol/{UNKNOWN}/correct",
    "/work/outgoing/new",
    f"/work/outgoing/{UNKNOWN}/save",
    f"/work/outgoing/{UNKNOWN}/submit",
    f"/work/outgoing/{UNKNOWN}/approve",
    f"/work/outgoing/{UNKNOWN}/return",
    f"/work/outgoing/reply/{UNKNOWN}",
    "/work/outgoing/sign",
    "/services/contact/apply",
    "/services/contact/submit",
)
GREEK = re.compile("[\u0370-\u03ff]")
#: What a write would leave behind: row counts of what the pages write, and the states they
#: change in place (service switches, timer pauses, active accounts, revoked tokens, names).
STORED = text(
    "select (select count(*) from admin_events), (select count(*) from protocol_entries),"
    " (select count(*) from cases), (select count(*) from pending_submissions),"
    " (select count(*) from outgoing_documents), (select count(*) from org_file_previews),"
    " (select count(*) from departments), (select count(*) from users), (select count(*) from api_tokens),"
    " (select count(*) from incidents where resolved_at is null),"
    " (select string_agg(code || enabled::text, ',' order by code) from service_switches),"
    " (select string_agg(process_id || paused::text, ',' order by process_id) from timer_schedules),"
    " (select string_agg(username || is_active::text, ',' order by username) from users),"
    " (select count(*) from api_tokens where revoked_at is not null),"
    " (select string_agg(code || name_el || name_en, ',' order by code) from departments)"
)


@pytest.fixture
def demo(db_session: Session) -> Session:
    seed_demo_municipality(db_session)
    deploy_directory(db_session)
    db_session.commit()
    return db_session


def _client(app: Any, session: Session, visitor: str) -> Any:
    client = app.test_client()
    username = {"admin": "admin", "clerk": "ypallilos"}.get(visitor)
    if username is not None:
        sign_in(client, session.scalars(select(User).where(User.username == username)).one())
    return client


def _stored(session: Session) -> tuple[Any, ...]:
    session.expire_all()
    return tuple(session.execute(STORED).one())


def _problem(visitor: str, method: str, path: str, answer: Any) -> str | None:
    where = f"{visitor} {method} {path[:120]} -> {answer.status_code}"
    if answer.status_code >= 500:
        return f"{where}: server error"
    if answer.status_code < 400:
        return None
    body = answer.get_data(as_text=True)
    if answer.is_json:
        message = (answer.get_json() or {}).get("message", "")
        return None if GREEK.search(message) else f"{where}: JSON message not in Greek: {message[:120]}"
    if 'lang="el"' not in body or not GREEK.search(body):
        return f"{where}: refusal page not in Greek: {body[:160]!r}"
    return None


def _queries(path: str) -> list[str]:
    """Every parameter at once for each short value; the long one parameter by parameter."""
    urls = ["&".join(f"{name}={value}" for name in QUERY_NAMES) for value in BAD_VALUES if value != LONG]
    urls += [f"{name}={LONG[:1000]}" for name in ("q", "page", "version", "year", "cursor", "party")]
    return [f"{path}?{query}" for query in urls]


@pytest.mark.parametrize("visitor", ["admin", "clerk", "anonymous"])
def test_bad_input_at_the_new_pages_is_a_clear_4xx_and_changes_nothing(
    app: Any, demo: Session, visitor: str
) -> None:
    client = _client(app, demo, visitor)
    problems: list[str] = []

    def send(method: str, path: str, label: str, **kwargs: Any) -> None:
        before = _stored(demo) if method != "GET" else None  # reads: checked once per visitor below
        try:  # the test app lets a server error's exception through: that is a 500 here
            answer = client.open(path, method=method, headers={"Accept-Language": "el"}, **kwargs)
        except Exception as error:
            problems.append(f"{visitor} {method} {label[:120]} -> 500: {type(error).__name__}: {error}"[:400])
            return
        if problem := _problem(visitor, method, label, answer):
            problems.append(problem)
        answer.close()  # as a server does: an unread stream (the register book) holds its request
        # Only an administrator's well-formed (if odd) values may be taken, e.g. a unit renamed
        # "<script>" (shown escaped); a refusal or anyone else's attempt leaves everything as it was.
        refused = answer.status_code >= 400 or visitor != "admin"
        if before is not None and refused and _stored(demo) != before:
            problems.append(f"{visitor} {method} {label[:120]} -> {answer.status_code}: stored data changed")

    before_reads = _stored(demo)
    for path in GET_PAGES:
        for url in [path, *(_queries(path) if visitor != "anonymous" else [])]:
            send("GET", url, url)
    if _stored(demo) != before_reads:
        problems.append(f"{visitor}: reading the pages with bad parameters changed stored data")
    for path in GET_PAGES:
        send("DELETE", path, path)
    for path in POST_PATHS:
        for value in POST_VALUES:
            form = dict.fromkeys(FORM_NAMES, value.replace(NUL, "\x00"))
            send("POST", path, f"{path} [{value[:20]}]", data=form | {"_csrf": CSRF})
            send("POST", path, f"{path} [{value[:20]}, no CSRF]", data=form)
        send("GET", path, path)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:80])
