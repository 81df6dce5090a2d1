"""The header's position switch: the session remembers the position acted in."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.people.admin_audit import CLI_OPERATOR
from engine.people.demo import DEMO_PASSWORD, seed_demo_municipality
from engine.people.models import Department, User
from engine.people.orgchart import assign_position


@pytest.fixture
def demo(db_session):
    seed_demo_municipality(db_session)
    db_session.commit()


def _csrf(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _sign_in(client, username: str) -> None:
    response = client.post(
        "/login", data={"_csrf": _csrf(client, "/login"), "username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302


def test_one_position_no_switch(client, demo):
    _sign_in(client, "ypallilos")
    assert 'name="position"' not in client.get("/work").get_data(as_text=True)
    me = client.get("/api/v1/me").get_json()
    assert me["roles"] == ["clerk"]


def test_two_positions_switch_and_the_api_follows(client, demo, db_session):
    head = db_session.scalars(select(User).where(User.username == "proistamenos")).one()
    revenue = db_session.scalars(select(Department).where(Department.code == "OIK")).one()
    second = assign_position(db_session, head, revenue, "clerk", by=CLI_OPERATOR)
    db_session.commit()
    _sign_in(client, "proistamenos")
    home = client.get("/work").get_data(as_text=True)
    assert 'name="position"' in home and "Ενεργώ ως" in home
    assert f'value="{second.id}"' in home
    # The head's approvals inbox before the switch; the clerk's department queue after.
    before = client.get("/api/v1/me").get_json()
    assert before["roles"] == ["head"]
    response = client.post(
        "/position", data={"_csrf": _csrf(client, "/work"), "position": str(second.id), "next": "/"}
    )
    assert response.status_code == 302
    home = client.get("/work").get_data(as_text=True)
    assert f'<option value="{second.id}" selected>' in home
    me = client.get("/api/v1/me").get_json()
    assert (me["department_id"], me["roles"]) == (str(revenue.id), ["clerk"])
    refused = client.post("/position", data={"_csrf": _csrf(client, "/work"), "position": "sub:nothing"})
    assert refused.status_code == 403
