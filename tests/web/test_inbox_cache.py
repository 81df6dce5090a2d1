"""The inbox keeps drawn pages under the task index versions: a change anywhere in the
department's tasks (or the reader's own) is seen at once; nothing else is redrawn.

Through the database: the versions come from the triggers on case_tasks (migration 0026).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.casework.saved_views import save_view
from engine.workflow.commands import claim_task, forward_task, release_task, start_case
from engine.workflow.index_versions import changes, compact_index_changes, index_version
from engine.workflow.task_index import InboxFilter, count_cap, inbox_counts
from tests.web.staff_fixtures import World, build_world, sign_in
from web.pages.staff.inbox import PAGES


@pytest.fixture
def world(db_session: Session) -> World:
    PAGES.clear()
    return build_world(db_session)


def _department_page(client: Any) -> str:
    answer = client.get("/work?view=department")
    assert answer.status_code == 200
    return str(answer.get_data(as_text=True))


def test_every_kind_of_task_change_raises_the_department_version(db_session: Session, world: World) -> None:
    org = world.org
    scopes = (org.department.id, org.clerk.id)
    seen = [index_version(db_session, scopes)]

    def changed() -> bool:
        now = index_version(db_session, scopes)
        moved = now != seen[-1]
        seen.append(now)
        return moved

    claim_task(db_session, world.task_id, org.clerk)
    assert changed()
    release_task(db_session, world.task_id, org.clerk)
    assert changed()
    start_case(db_session, "document_approval", department_id=org.department.id, started_by=org.clerk)
    assert changed()
    unrelated = index_version(db_session, (org.other.id,))
    forward_task(db_session, world.task_id, org.other.id, org.head)
    assert changed() and index_version(db_session, (org.other.id,)) != unrelated
    assert not changed()  # reading changes nothing
    before = index_version(db_session, (org.department.id, org.other.id, org.clerk.id))
    assert compact_index_changes(db_session) > 0
    assert db_session.scalar(select(func.count()).select_from(changes)) == 0
    assert index_version(db_session, (org.department.id, org.other.id, org.clerk.id)) == before


def test_a_colleagues_claim_is_seen_at_once_and_an_unchanged_list_is_not_redrawn(
    client: Any, db_session: Session, world: World
) -> None:
    sign_in(client, world.org.clerk)
    first = _department_page(client)
    assert world.case_number in first
    assert _department_page(client) is not None and len(PAGES._pages) == 1  # kept, not drawn twice
    claim_task(db_session, world.task_id, world.org.clerk2)  # a colleague, elsewhere
    db_session.flush()
    after = _department_page(client)
    assert world.case_number not in after  # no longer unclaimed: gone from the department's queue
    assert len(PAGES._pages) == 2
    mine = client.get("/work?view=mine").get_data(as_text=True)
    assert world.case_number not in mine


def test_a_view_shared_with_the_department_appears_in_colleagues_inboxes(
    client: Any, db_session: Session, world: World
) -> None:
    sign_in(client, world.org.clerk)
    assert "Εκπρόθεσμα του τμήματος" not in _department_page(client)
    save_view(db_session, world.org.clerk2, "Εκπρόθεσμα του τμήματος", {"overdue": "1"}, shared=True)
    db_session.flush()
    assert "Εκπρόθεσμα του τμήματος" in _department_page(client)


def test_flash_messages_are_never_kept_in_a_page(client: Any, world: World) -> None:
    headers = sign_in(client, world.org.clerk)
    claimed = client.post(
        f"/work/tasks/{world.task_id}/claim", data={"_csrf": headers["X-CSRF-Token"], "next": "/work"}
    )
    assert claimed.status_code == 302
    assert "Αναλάβατε" in client.get("/work").get_data(as_text=True)
    assert "Αναλάβατε" not in client.get("/work").get_data(as_text=True)


def test_tab_counts_stop_at_their_cap_and_say_so(client: Any, db_session: Session, world: World) -> None:
    org = world.org
    for _ in range(2):
        start_case(db_session, "document_approval", department_id=org.department.id, started_by=org.clerk)
    db_session.flush()
    assert inbox_counts(db_session, org.clerk, cap=10)["department"] == 3  # exact below the cap
    assert inbox_counts(db_session, org.clerk, cap=2)["department"] == 3  # cap + 1: "more than 2"
    assert count_cap(InboxFilter()) == 1000 and count_cap(InboxFilter(service="family_status")) == 100
    sign_in(client, org.clerk)
    assert '<span class="count" id="count-department">3</span>' in _department_page(client)
