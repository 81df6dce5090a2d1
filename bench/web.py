"""Staff inbox, task and case pages, the tracking page and the catalogue with many cases stored.

Seeds N cases (default 1,000,000) across 10 departments with COPY: a few real certificate
requests submitted through the engine (their task, case and tracking pages are the ones
measured), the rest written directly — open cases with one task row each in the department
queues, closed cases sharing one small real workflow state, since the pages measured do not
read it. Then serves the app with gunicorn (as `polis run` does) and drives it over loopback
with ApacheBench (Debian's apache2-utils): p50/p95 at 1 client and requests/s at 8 clients,
each next to a trivial page of the same app (the sign-in form) in the same run; the 8-client
figures in rounds of (baseline, page), reporting the median round's ratio with the range. The inbox keeps
drawn pages under its department's task index version (web.pages.staff.inbox), so the repeated
requests mostly measure kept pages (as a list polling itself, or opened again, is served); the
"drawn afresh" lines measure the inbox when every request misses (as after a change).

Run: .venv/bin/python bench/web.py [--cases N] [--requests R]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from core.database import upgrade_database
from core.orm import make_engine, make_session_factory, session_scope
from core.pgcluster import PgCluster
from core.settings import Settings
from engine.domains import load_domains
from engine.people.accounts import create_user, hash_password
from engine.people.demo import DEMO_PASSWORD, seed_demo_municipality
from engine.people.models import Department, User
from engine.requests import ApplicantInfo, Upload, submit_request
from engine.workflow.definitions import deploy_directory
from engine.workflow.models import Case, CaseTask
from forms.catalogue import get_service
from storage.filesystem import FilesystemStore
from tests.citizens.samples import sample_data
from tests.requests.conftest import PDF_BYTES

load_domains()  # as every Polis process does at start

SERVICE = "family_status"
DEPARTMENTS = 10
REAL_CASES = 20
OPEN_SHARE = 0.05  # open cases (one task each); the rest are closed
CLIENTS = 8
#: The 8-client figures: rounds of (baseline, page), the median round's ratio reported.
ROUNDS = 5
BASELINE = "trivial page (sign-in form)"
#: Public pages limited per client address: measured at one client only.
RATE_LIMITED = {"tracking page"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(url: str, root: Path, settings: Settings, total: int) -> dict[str, Any]:
    """The municipality, REAL_CASES real requests and ``total`` cases in all; what to measure."""
    factory = make_session_factory(make_engine(url))
    store = FilesystemStore(root / "objects", secret=settings.secret(), base_url=settings.public_base_url)
    with session_scope(factory) as session:
        seed_demo_municipality(session)
        deploy_directory(session)
        for n in range(DEPARTMENTS - session.query(Department).count()):
            department = Department(code=f"B{n:02d}", name_el=f"Τμήμα {n}", name_en=f"Department {n}")
            session.add(department)
            session.flush()
            for role in ("clerk", "head"):
                create_user(
                    session,
                    username=f"bench.{role}.{n}",
                    full_name=f"Bench {role} {n}",
                    password=None,
                    password_hash=hash_password(DEMO_PASSWORD),
                    department=department,
                    roles=[role],
                )
    real = []
    for n in range(REAL_CASES):
        with session_scope(factory) as session:
            real.append(
                submit_request(
                    session,
                    store,
                    service_code=SERVICE,
                    form={k: v for k, v in sample_data(get_service(SERVICE)).items() if v is not None},
                    attachments=[Upload("id_copy", "id.pdf", io.BytesIO(PDF_BYTES))],
                    applicant=ApplicantInfo(
                        name="Ελένη Παπαδοπούλου", email=f"c{n}@example.gr", channel="email"
                    ),
                    settings=settings,
                )
            )
    with session_scope(factory) as session:
        template = session.get(Case, real[0].case_id)
        task = session.scalars(select(CaseTask).where(CaseTask.case_id == template.id)).one()
        departments = list(session.scalars(select(Department.id)))
        clerk = session.scalar(select(User).where(User.username == "ypallilos"))
        assert template is not None and clerk is not None
        shared = {
            c: getattr(template, c) for c in ("definition_id", "process_id", "state", "applicant", "data")
        }
        task_shape = {
            c: getattr(task, c) for c in ("process_id", "bpmn_id", "title", "lane", "role", "form_key")
        }
        first_task_id, case_id, tracking = task.task_id, template.id, real[0].tracking_code
    _copy_cases(url, total - REAL_CASES, shared, task_shape, departments)
    return {
        "task": first_task_id,
        "case": case_id,
        "tracking": tracking,
        "department": clerk.department_id,
        "departments": len(departments),
    }


def _copy_cases(
    url: str, count: int, shared: dict[str, Any], task: dict[str, Any], departments: list[uuid.UUID]
) -> None:
    """COPY ``count`` cases (and the open ones' task rows), in batches."""
    import psycopg

    now = datetime.now(UTC)
    dsn = make_engine(url).url.set(drivername="postgresql").render_as_string(hide_password=False)
    applicant, data = json.dumps(shared["applicant"]), json.dumps(shared["data"])
    batch = 100_000
    with psycopg.connect(dsn) as connection:
        connection.execute("SET synchronous_commit = off")
        for start in range(0, count, batch):
            with connection.cursor() as cursor:
                with cursor.copy(
                    "COPY cases (id, number, tracking_code, definition_id, process_id, status, milestone,"
                    " department_id, applicant, data, created_at, updated_at, closed_at, due_at, state,"
                    " version, audit_seq, audit_hash) FROM STDIN"
                ) as copy:
                    opened: list[tuple[uuid.UUID, uuid.UUID, datetime]] = []
                    stride = int(1 / OPEN_SHARE)
                    for n in range(start, min(start + batch, count)):
                        case_id = uuid.uuid4()
                        # By n // stride: the open cases (every stride-th) go round all the
                        # departments, not all to one (n % stride == 0 would pick one department).
                        department = departments[(n // stride) % len(departments)]
                        created = now - timedelta(minutes=n % 100_000)
                        is_open = n % stride == 0
                        if is_open:
                            opened.append((case_id, department, created))
                        copy.write_row(
                            (
                                case_id,
                                f"2025/{n + 1:07d}",
                                uuid.uuid4().hex + uuid.uuid4().hex,
                                shared["definition_id"],
                                shared["process_id"],
                                "active" if is_open else "completed",
                                "",
                                department,
                                applicant,
                                data,
                                created,
                                created,
                                None if is_open else created,
                                created + timedelta(days=10),
                                shared["state"],
                                1,
                                0,
                                "",
                            )
                        )
                with cursor.copy(
                    "COPY case_tasks (task_id, case_id, process_id, bpmn_id, title, lane, department_id,"
                    " role, priority, form_key, created_at, due_at) FROM STDIN"
                ) as copy:
                    for case_id, department, created in opened:
                        copy.write_row(
                            (
                                uuid.uuid4(),
                                case_id,
                                task["process_id"],
                                task["bpmn_id"],
                                task["title"],
                                task["lane"],
                                department,
                                task["role"],
                                0,
                                task["form_key"],
                                created,
                                created + timedelta(days=10),
                            )
                        )
            connection.commit()
        connection.execute("ANALYZE cases")
        connection.execute("ANALYZE case_tasks")
        connection.commit()


def sign_in(base: str, username: str) -> str:
    """The session cookie of a member of staff signed in through the form."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="_csrf" value="([^"]+)"', form)
    assert token, "no CSRF token on the sign-in form"
    body = f"_csrf={token.group(1)}&username={username}&password={DEMO_PASSWORD}".encode()
    opener.open(urllib.request.Request(f"{base}/login", data=body))
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def ab(url: str, requests: int, clients: int, cookie: str | None) -> dict[str, float]:
    """ApacheBench's figures for ``url``: requests/s, p50 and p95 in ms; non-2xx answers fail."""
    command = ["ab", "-q", "-n", str(requests), "-c", str(clients)]
    if cookie:
        command += ["-C", cookie]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    failed = re.search(r"Non-2xx responses:\s+(\d+)", output)
    assert not failed, f"{url}: {failed.group(1)} answers were not 2xx"
    return {
        "rate": float(re.search(r"Requests per second:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50": float(re.search(r"\s50%\s+(\d+)", output).group(1)),  # type: ignore[union-attr]
        "p95": float(re.search(r"\s95%\s+(\d+)", output).group(1)),  # type: ignore[union-attr]
    }


def latency_ms(url: str, requests: int, cookie: str | None, *, vary: bool = False) -> tuple[float, float]:
    """p50 and p95 in ms at one client, timed here to the tenth of a millisecond (ab rounds to 1 ms).

    ``vary`` adds an argument the page ignores but its cache key holds (the URL), so every
    request is drawn afresh: what a page costs when its department's tasks just changed.
    """
    times = []
    for n in range(requests):
        if vary:
            url = re.sub(r"&fresh=\d+$", "", url) + f"&fresh={n}"
        headers = {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}
        if cookie:
            headers["Cookie"] = cookie
        started = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            response.read()
            assert response.status == 200, f"{url}: {response.status}"
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    if shutil.which("ab") is None:
        sys.exit("bench/web.py needs ApacheBench: apt-get install apache2-utils (make setup does)")

    root = Path(tempfile.mkdtemp(prefix="polis-bench-web-"))
    root.chmod(0o755)
    cluster = PgCluster(root / "pg", durable=True)
    cluster.ensure_running()
    server = None
    try:
        cluster.ensure_database("bench")
        url = cluster.url("bench")
        upgrade_database(url)
        port = free_port()
        env = {
            **os.environ,
            "POLIS_DATABASE_URL": url,
            "POLIS_VAR_DIR": str(root),
            "POLIS_STORAGE_URL": f"file://{root / 'objects'}",
            "POLIS_BASE_URL": f"http://127.0.0.1:{port}",
            # The tracking page is rate-limited per client address; the one-client figure gives
            # each request an address of its own (X-Forwarded-For, trusted from one proxy).
            "POLIS_PROXY_COUNT": "1",
        }
        settings = Settings(database_url=url, var_dir=root, storage_url=f"file://{root / 'objects'}")
        started = time.perf_counter()
        targets = seed(url, root, settings, args.cases)
        seeded_in = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "seeded": args.cases,
                    "departments": targets["departments"],
                    "open_tasks_per_department": int(args.cases * OPEN_SHARE) // targets["departments"],
                    "open_cases_with_a_task": int(args.cases * OPEN_SHARE) + REAL_CASES,
                    "real_requests": REAL_CASES,
                    "closed_cases": "share one real workflow state (the pages measured do not read it)",
                    "seconds": round(seeded_in, 1),
                }
            ),
            file=sys.stderr,
            flush=True,
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--log-level",
                "warning",
                "web.app:create_app()",
            ],
            env=env,
            cwd=Path(__file__).resolve().parents[1],
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        cookie = sign_in(base, "ypallilos")
        pages = {
            "inbox first page": (f"{base}/work?view=department", cookie),
            "inbox first page, filtered": (
                f"{base}/work?view=department&overdue=1&service={SERVICE}",
                cookie,
            ),
            "task page": (f"{base}/work/tasks/{targets['task']}", cookie),
            "case page": (f"{base}/work/cases/{targets['case']}", cookie),
            "tracking page": (f"{base}/track/{targets['tracking']}", None),
            "catalogue": (f"{base}/services", None),
            "catalogue, searched without accents": (
                f"{base}/services?q=%CE%B2%CE%B5%CE%B2%CE%B1%CE%B9%CF%89%CF%83%CE%B7",
                None,
            ),
        }
        trivial = f"{base}/login"
        for name, page in (
            ("inbox first page, drawn afresh (no kept page)", pages["inbox first page"][0]),
            ("inbox first page, filtered, drawn afresh", pages["inbox first page, filtered"][0]),
        ):
            latency_ms(page, 20, cookie, vary=True)
            base_p50, base_p95 = latency_ms(trivial, args.requests, None)
            p50, p95 = latency_ms(page, args.requests, cookie, vary=True)
            print(
                json.dumps(
                    {
                        "name": f"{name}, 1 client",
                        "value": round(p95, 1),
                        "unit": "ms p95",
                        "baseline": BASELINE,
                        "baseline_value": round(base_p95, 1),
                        "ratio": round(p95 / base_p95, 2),
                        "p50_ms": round(p50, 1),
                        "baseline_p50_ms": round(base_p50, 1),
                        "clients": 1,
                        "cases": args.cases,
                    }
                ),
                flush=True,
            )
        for name, (page, page_cookie) in pages.items():
            latency_ms(page, 20, page_cookie)  # warm up: caches, connections
            base_p50, base_p95 = latency_ms(trivial, args.requests, None)
            p50, p95 = latency_ms(page, args.requests, page_cookie)
            print(
                json.dumps(
                    {
                        "name": f"{name}, 1 client",
                        "value": round(p95, 1),
                        "unit": "ms p95",
                        "baseline": BASELINE,
                        "baseline_value": round(base_p95, 1),
                        "ratio": round(p95 / base_p95, 2),
                        "p50_ms": round(p50, 1),
                        "baseline_p50_ms": round(base_p50, 1),
                        "clients": 1,
                        "cases": args.cases,
                    }
                ),
                flush=True,
            )
            if name in RATE_LIMITED:
                continue  # 8 clients from one address measure the limiter, not the page
            # Rounds, each page run right after its own baseline run: on a shared machine the
            # load swings within seconds, and one baseline for the whole page skews the ratio.
            pairs = []
            for _ in range(ROUNDS):
                base_rate = ab(trivial, args.requests * 2 // ROUNDS, CLIENTS, None)["rate"]
                loaded = ab(page, args.requests * 2 // ROUNDS, CLIENTS, page_cookie)
                pairs.append((loaded["rate"], base_rate, loaded["rate"] / base_rate, loaded["p95"]))
            pairs.sort(key=lambda pair: pair[2])
            rate, base_rate, ratio, p95 = pairs[len(pairs) // 2]
            print(
                json.dumps(
                    {
                        "name": name,
                        "value": rate,
                        "unit": "per s",
                        "baseline": BASELINE,
                        "baseline_value": base_rate,
                        "ratio": round(ratio, 2),
                        "ratio_min_max": [round(pairs[0][2], 2), round(pairs[-1][2], 2)],
                        "rounds": ROUNDS,
                        "p95_ms": p95,
                        "clients": CLIENTS,
                        "cases": args.cases,
                    }
                ),
                flush=True,
            )
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
