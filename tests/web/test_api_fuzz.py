"""schemathesis over /api/v1/openapi.json against the Flask app: no answer may be a 5xx.

Bounded (a few valid and a few invalid examples per operation), unauthenticated and with a
staff API token, so it runs in the ordinary suite. The issue's outside fuzzer found 38
server errors; this is our own equivalent, so we find them first. (schemathesis' pytest
plugin does not run on pytest 9.2, so the operations' Hypothesis strategies are driven here.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis.generation.modes import GenerationMode
from sqlalchemy.orm import Session

from tests.web.staff_fixtures import World, bearer, build_world

MAX_EXAMPLES = 8


@pytest.fixture
def app(test_settings: Any, session_factory: Any, object_store: Any) -> Any:
    """The app with the SMS webhook on (off, it answers a deliberate 503)."""
    from web.app import create_app

    settings = test_settings.model_copy(update={"sms_inbound_secret": SecretStr("fuzz-secret-fuzz-secret")})
    application = create_app(settings, session_factory=session_factory, store=object_store)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def world(db_session: Session) -> World:
    built = build_world(db_session)
    db_session.commit()
    return built


def _server_errors(app: Any, headers: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    found: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = case.call(headers=headers)
                if response.status_code >= 500:
                    found.append(
                        f"{case.method} {case.formatted_path} query={case.query!r} "
                        f"body={str(case.body)[:200]!r} -> {response.status_code} {response.text[:200]}"
                    )

            try:
                run()
            except Unsatisfiable:
                # Nothing invalid to generate (e.g. an operation without parameters).
                assert mode is GenerationMode.NEGATIVE, operation.label
    return found


@pytest.mark.timeout(900)
def test_no_server_errors_anonymous(app: Any, world: World) -> None:
    errors = _server_errors(app, {})
    assert errors == [], "\n".join(errors)


@pytest.mark.timeout(900)
def test_no_server_errors_with_a_staff_token(app: Any, db_session: Session, world: World) -> None:
    headers = bearer(db_session, world.org.clerk)
    db_session.commit()
    errors = _server_errors(app, headers)
    assert errors == [], "\n".join(errors)
