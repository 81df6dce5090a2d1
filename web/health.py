"""``/healthz``: is this Polis able to serve (database and object storage reachable, a worker alive)?"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from core.errors import PolisError
from web.context import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 with each component's state, or 503 naming what is down and why."""
    checks: dict[str, str] = {}
    healthy = True
    probes = (
        ("database", services().check_database),
        ("storage", services().store.check),
        ("worker", services().check_worker),
    )
    for name, probe in probes:
        if name == "worker" and checks["database"] != "ok":
            checks[name] = "unknown: the database is unreachable"
            continue
        try:
            probe()
            checks[name] = "ok"
        except PolisError as exc:
            checks[name] = exc.message
            healthy = False
    return jsonify({"status": "ok" if healthy else "unavailable", **checks}), 200 if healthy else 503
