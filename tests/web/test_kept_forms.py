"""A staff form posted after the session ended comes back filled in after sign-in, and only then.

Through the app and its database: the session expires (a fresh cookie jar) or is ended by a
sign-out elsewhere; the post is kept on the server, not in the URL; sign-in lands on the
form's page with the fields drawn back; nothing is submitted until the user submits again
with a fresh CSRF token; another site's post is not kept; another account does not see it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.casework.rescued_forms import RescuedForm
from engine.people.accounts import end_all_sessions, hash_password
from engine.people.models import User
from engine.workflow.models import CaseTask
from tests.web.staff_fixtures import CSRF, World, build_world, sign_in

PASSWORD = "correct horse battery staple 42"
ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def world(db_session: Session) -> World:
    built = build_world(db_session)
    for user in (built.org.clerk, built.org.outsider):
        user.password_hash = hash_password(PASSWORD)
    db_session.flush()
    return built


def _sign_in_by_form(client: Any, user: User) -> Any:
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="_csrf" value="([^"]+)"', form)
    assert token
    return client.post(
        "/login", data={"_csrf": token.group(1), "username": user.username, "password": PASSWORD}
    )


def _fresh_token(page: str) -> str:
    token = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert token
    return token.group(1)


def test_an_expired_session_keeps_the_task_form_for_after_sign_in(
    app: Any, db_session: Session, world: World
) -> None:
    task_page = f"/work/tasks/{world.task_id}"
    browser = app.test_client()  # the session cookie has expired: the browser sends none
    posted = browser.post(
        f"{task_page}/complete",
        data={
            "_csrf": "the token of the session that expired",
            "title": "Βεβαίωση",
            "body": "Κείμενο απάντησης",
        },
        headers={**ORIGIN, "Referer": f"http://localhost{task_page}"},
    )
    assert posted.status_code == 302
    assert posted.headers["Location"] == f"/login?next={task_page}"
    assert "Κείμενο" not in posted.headers["Location"]  # never in the URL
    assert db_session.scalar(select(CaseTask.task_id).where(CaseTask.task_id == world.task_id))  # not done

    signed_in = _sign_in_by_form(browser, world.org.clerk)
    assert signed_in.headers["Location"] == task_page
    page = browser.get(task_page).get_data(as_text=True)
    assert 'id="kept-form-notice"' in page
    assert 'value="Βεβαίωση"' in page and "Κείμενο απάντησης</textarea>" in page
    # Nothing was submitted for the user: the task is still open, waiting for them.
    assert db_session.scalar(select(CaseTask.task_id).where(CaseTask.task_id == world.task_id))

    # Re-submitting needs the new session's token like any post; a stale one is refused.
    stale = browser.post(f"{task_page}/complete", data={"_csrf": "stale", "title": "x", "body": "y"})
    assert stale.status_code == 400
    done = browser.post(
        f"{task_page}/complete",
        data={"_csrf": _fresh_token(page), "title": "Βεβαίωση", "body": "Κείμενο απάντησης"},
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    assert db_session.scalar(select(CaseTask.task_id).where(CaseTask.task_id == world.task_id)) is None
    assert db_session.scalar(select(func.count()).select_from(RescuedForm)) == 0  # served, forgotten
    assert 'id="kept-form-notice"' not in browser.get("/work").get_data(as_text=True)


def test_a_comment_posted_after_a_sign_out_elsewhere_comes_back_for_that_account_only(
    app: Any, db_session: Session, world: World
) -> None:
    task_page = f"/work/tasks/{world.task_id}"
    browser = app.test_client()
    sign_in(browser, world.org.clerk)
    end_all_sessions(db_session, world.org.clerk)  # signed out on another computer
    db_session.flush()
    posted = browser.post(
        f"{task_page}/comment",
        data={"_csrf": CSRF, "comment_text": "Ζητήθηκε βεβαίωση από το ΚΕΠ"},
        headers={**ORIGIN, "Referer": f"http://localhost{task_page}/comment"},  # after an error
    )
    assert posted.status_code == 302 and posted.headers["Location"] == f"/login?next={task_page}"

    # A colleague signs in on the same browser: the comment was kept for the clerk, not for them.
    colleague = _sign_in_by_form(browser, world.org.outsider)
    assert colleague.headers["Location"] != task_page
    assert db_session.scalar(select(RescuedForm.user_id)) is None

    other = app.test_client()
    sign_in(other, world.org.clerk)
    end_all_sessions(db_session, world.org.clerk)
    db_session.flush()
    other.post(
        f"{task_page}/comment",
        data={"_csrf": CSRF, "comment_text": "Δεύτερη προσπάθεια"},
        headers={**ORIGIN, "Referer": f"http://localhost{task_page}"},
    )
    assert _sign_in_by_form(other, world.org.clerk).headers["Location"] == task_page
    page = other.get(task_page).get_data(as_text=True)
    assert "Δεύτερη προσπάθεια</textarea>" in page


def test_a_post_from_another_site_is_not_kept(app: Any, db_session: Session, world: World) -> None:
    browser = app.test_client()
    answer = browser.post(
        f"/work/tasks/{world.task_id}/comment",
        data={"comment_text": "Κάντε κλικ εδώ"},
        headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"},
    )
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert db_session.scalar(select(func.count()).select_from(RescuedForm)) == 0
    no_origin = app.test_client().post(f"/work/tasks/{world.task_id}/comment", data={"comment_text": "x"})
    assert no_origin.status_code == 302
    assert db_session.scalar(select(func.count()).select_from(RescuedForm)) == 0


def test_a_signed_in_post_without_the_token_is_still_refused(app: Any, world: World) -> None:
    browser = app.test_client()
    sign_in(browser, world.org.clerk)
    answer = browser.post(f"/work/tasks/{world.task_id}/comment", data={"comment_text": "x"}, headers=ORIGIN)
    assert answer.status_code == 400
