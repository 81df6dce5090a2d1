"""A `polis worker` whose service handler hangs: the stalled-job test kills it with SIGKILL.

Run as ``python -m tests.reliability.stalled_worker DATABASE_URL``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sqlalchemy.orm import sessionmaker

from core.orm import make_engine
from engine.domains import load_domains
from engine.workflow.jobs import run_worker
from engine.workflow.service_tasks import ServiceCall, register_handler

HANDLER = "hanging_service"


def hang(call: ServiceCall) -> dict[str, Any]:
    """Never finish (until killed)."""
    print("handler started", flush=True)
    time.sleep(600)
    return {}


if __name__ == "__main__":
    load_domains()
    register_handler(HANDLER)(hang)
    run_worker(sessionmaker(bind=make_engine(sys.argv[1]), expire_on_commit=False), poll_seconds=0.2)
