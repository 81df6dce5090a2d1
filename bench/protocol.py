"""Protocol registry benchmark: registrations per second and search latency on 1,000,000 entries.

Run on its own: ``.venv/bin/python bench/protocol.py [--entries 1000000]``. It starts a
throwaway PostgreSQL cluster, migrates it, and prints one JSON line per figure. The baseline
for registrations is the raw work numbering cannot avoid, measured in the same run on the same
tables: ``UPDATE`` of the locked counter row ``… RETURNING`` + entry ``INSERT`` + ``COMMIT``
over plain psycopg.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.database import upgrade_database
from core.orm import make_session_factory, session_scope
from core.pgcluster import PgCluster
from engine.domains import load_domains
from engine.people.accounts import create_user
from engine.protocol.drafts import EntryDraft
from engine.protocol.entries import create_registry, register
from engine.protocol.models import Direction, ProtocolEntry
from engine.protocol.search import SearchQuery, search

load_domains()  # as every Polis process does at start

SUBJECT = "Αίτηση για βεβαίωση μόνιμης κατοικίας"


def emit(**figure: Any) -> None:
    """One JSON line per figure."""
    print(json.dumps(figure, ensure_ascii=False), flush=True)


def run_clients(clients: int, total: int, work: Callable[[], Callable[[], None]]) -> float:
    """Run ``total`` operations over ``clients`` threads; operations per second."""
    per_client = total // clients
    ready = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client() -> None:
        operation = work()
        ready.wait()
        try:
            for _ in range(per_client):
                operation()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return per_client * clients / elapsed


def raw_client(dsn: str, registry_id: int, clerk_id: uuid.UUID) -> Callable[[], None]:
    """The baseline: locked counter UPDATE … RETURNING + INSERT + COMMIT, plain psycopg."""
    connection = psycopg.connect(dsn)
    connection.execute(
        "INSERT INTO protocol_counters VALUES (%s, 2026, 0, now()) ON CONFLICT DO NOTHING",
        (registry_id,),
    )
    connection.commit()

    def operation() -> None:
        number = connection.execute(
            "UPDATE protocol_counters SET last_number = last_number + 1"
            " WHERE registry_id = %s AND year = 2026 RETURNING last_number",
            (registry_id,),
        ).fetchone()
        assert number is not None
        connection.execute(
            "INSERT INTO protocol_entries (registry_id, year, number, registered_at, direction,"
            " subject, registered_by_id) VALUES (%s, 2026, %s, now(), 'ΕΞ', %s, %s)",
            (registry_id, number[0], SUBJECT, clerk_id),
        )
        connection.commit()

    return operation


@dataclass(frozen=True)
class Clerk:
    """Who registers in the benchmark (what register() reads of a user)."""

    id: uuid.UUID
    clearance: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("protocol_clerk",)
    department_id: uuid.UUID | None = None


def service_client(engine: Engine, code: str, clerk: Clerk) -> Callable[[], None]:
    """Our path: register() in a unit of work as the app runs it (core.orm.session_scope)."""
    request = EntryDraft(direction=Direction.OUTGOING, subject=SUBJECT, registry=code)
    sessions = make_session_factory(engine)

    def operation() -> None:
        with session_scope(sessions) as session:
            register(session, request, registered_by=clerk)

    return operation


def bench_registrations(url: str, dsn: str, total: int, rounds: int) -> None:
    """Registrations per second for 1, 8 and 32 clients next to the raw baseline.

    Baseline and service runs alternate, ``rounds`` times each, and the medians are
    reported: the machine is shared, so single runs are noisy.
    """
    engine = create_engine(url, pool_size=32, max_overflow=0)
    with Session(engine) as session, session.begin():
        raw_id = create_registry(session, "RAW", "Βάση σύγκρισης", "Baseline").id
        clerk = Clerk(create_user(session, username="bench", full_name="Bench", password=None).id)
        for clients in (1, 8, 32):
            create_registry(session, f"S{clients}", "Μέτρηση", "Measured")
    for clients in (1, 8, 32):
        count = max(total // 4, 400) if clients == 1 else total
        baseline_runs, service_runs = [], []
        for _ in range(rounds):
            baseline_runs.append(run_clients(clients, count, lambda: raw_client(dsn, raw_id, clerk.id)))
            service_runs.append(
                run_clients(clients, count, lambda c=clients: service_client(engine, f"S{c}", clerk))
            )
        baseline, ours = statistics.median(baseline_runs), statistics.median(service_runs)
        emit(
            name="protocol registrations",
            value=round(ours, 1),
            unit="per s",
            baseline="raw locked counter update+insert+commit",
            baseline_value=round(baseline, 1),
            ratio=round(ours / baseline, 2),
            clients=clients,
            rounds=rounds,
        )
    engine.dispose()


BULK_SQL = """
INSERT INTO protocol_entries (registry_id, year, number, registered_at, direction, subject,
    sender, recipients, classification, case_id, registered_by_id)
SELECT %(registry)s, 2025, n,
       timestamptz '2025-01-01 06:00+02' + (n * %(step)s * interval '1 second'),
       (ARRAY['ΕΙΣ', 'ΕΞ', 'ΕΣΩ'])[1 + n %% 3],
       (ARRAY['Αίτηση', 'Βεβαίωση', 'Απάντηση σε', 'Διαβίβαση', 'Πρόσκληση', 'Έγκριση',
              'Ανάθεση', 'Ενημέρωση για'])[1 + n %% 8] || ' ' ||
       (ARRAY['μόνιμης κατοικίας', 'κατάληψης κοινόχρηστου χώρου', 'οικογενειακής κατάστασης',
              'δημοτικής ενημερότητας', 'εγγραφής σε παιδικό σταθμό', 'τετραγωνικών ακινήτου',
              'προμήθειας υλικών', 'συντήρησης οδοφωτισμού', 'αποκομιδής ογκωδών'])[1 + (n / 8) %% 9]
       || ' αρ. ' || n,
       CASE WHEN n %% 3 = 1 THEN (ARRAY['Παπαδάκης', 'Οικονόμου', 'Γεωργίου', 'Νικολάου',
              'Κωνσταντίνου', 'Αλεξίου', 'Δημητρίου'])[1 + n %% 7] || ' ' || (n %% 5000)::text END,
       ARRAY[(ARRAY['Διεύθυνση Τεχνικών Υπηρεσιών', 'Τμήμα Δημοτολογίου', 'Ταμειακή Υπηρεσία',
              'Περιφέρεια Κρήτης'])[1 + n %% 4]],
       CASE WHEN n %% 50 = 0 THEN 'ΠΔ' WHEN n %% 97 = 0 THEN 'ΕΜΠ' WHEN n %% 13 = 0 THEN 'ΠΧ' END,
       CASE WHEN n %% 4 = 0 THEN md5(n::text)::uuid END,
       (SELECT id FROM users WHERE username = 'bench')
FROM generate_series(%(start)s, %(stop)s) AS n
"""


def bulk_load(dsn: str, registry_id: int, entries: int) -> float:
    """Load entries with generate_series in batches; seconds taken."""
    started = time.perf_counter()
    batch = 100_000
    with psycopg.connect(dsn) as connection:
        for start in range(1, entries + 1, batch):
            stop = min(start + batch - 1, entries)
            connection.execute(
                BULK_SQL,
                {
                    "registry": registry_id,
                    "start": start,
                    "stop": stop,
                    "step": 31_000_000 / entries,  # spread over the year whatever the size
                },
            )
            connection.commit()
        connection.execute(
            "INSERT INTO protocol_counters VALUES (%s, 2025, %s, '2026-01-01') "
            "ON CONFLICT (registry_id, year) DO UPDATE SET last_number = EXCLUDED.last_number",
            (registry_id, entries),
        )
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE protocol_entries")
    return time.perf_counter() - started


class Reader:
    """A search user cleared for everything who sees every entry's contents (worst case: no
    rows filtered away)."""

    id = uuid.uuid4()
    clearance = ("ΠΧ", "ΕΜΠ", "ΠΔ")
    roles = ("admin",)
    department_id = None


class UnitReader:
    """A clerk of a unit that registered none of the entries: every entry comes back restricted,
    and the searches on contents must check each candidate's visibility (worst case of
    engine/protocol/visibility.py: nothing matches, so nothing fills the page early)."""

    def __init__(self) -> None:
        self.id = uuid.uuid4()
        self.clearance = ("ΠΧ", "ΕΜΠ", "ΠΔ")
        self.roles = ("clerk",)
        self.department_id = uuid.uuid4()


def search_cases(entries: int) -> dict[str, SearchQuery]:
    """The searches people run, one of each kind."""
    middle = entries // 2
    return {
        "number+year": SearchQuery(year=2025, number=middle),
        "date range": SearchQuery(date_from=date(2025, 3, 1), date_to=date(2025, 3, 7)),
        "direction": SearchQuery(direction=Direction.INCOMING),
        "party": SearchQuery(party="Παπαδακης 1234"),
        "subject words": SearchQuery(text="αιτηση κατοικιας"),
        "rare subject word": SearchQuery(text=f"αρ {middle}"),
        "subject + date range": SearchQuery(
            text="βεβαιωση", date_from=date(2025, 6, 1), date_to=date(2025, 6, 30)
        ),
        "case": SearchQuery(case_id=uuid.UUID(bytes=bytes.fromhex(md5_hex(4 * (middle // 4))))),
        "classification": SearchQuery(classification="ΕΜΠ"),
        "one day": SearchQuery(date_from=date(2025, 5, 4), date_to=date(2025, 5, 4)),
    }


def md5_hex(n: int) -> str:
    """md5 of the decimal text of n, as PostgreSQL's md5(n::text)."""
    import hashlib

    return hashlib.md5(str(n).encode()).hexdigest()  # noqa: S324 - matches the loader, not security


def bench_search(url: str, entries: int, repeats: int) -> None:
    """p50/p95 latency of each kind of search, first page of 50, on the loaded table.

    The baseline is the floor of any query through the same stack, measured the same way:
    fetching one entry by primary key with the ORM.
    """
    engine = create_engine(url)
    floor: list[float] = []
    with Session(engine) as session:
        some_id = session.scalar(select(ProtocolEntry.id).limit(1))
        for _ in range(repeats):
            started = time.perf_counter()
            session.get(ProtocolEntry, some_id)
            floor.append((time.perf_counter() - started) * 1000)
            session.expunge_all()
            session.rollback()
    global _FLOOR_P50, _FLOOR_P95
    _FLOOR_P50, _FLOOR_P95 = _percentile(floor, 50), _percentile(floor, 95)
    latencies_all: list[float] = []
    for name, query in search_cases(entries).items():
        latencies = []
        with Session(engine) as session:
            for _ in range(repeats):
                started = time.perf_counter()
                page = search(session, query, Reader())
                latencies.append((time.perf_counter() - started) * 1000)
                session.rollback()
        assert page.entries or name in {"case"}, f"search {name!r} found nothing"
        latencies_all += latencies
        emit(**_latency_figure(f"protocol search p50: {name}", latencies, 50, entries))
        emit(**_latency_figure(f"protocol search p95: {name}", latencies, 95, entries))
    emit(**_latency_figure("protocol search p50: all kinds", latencies_all, 50, entries))
    emit(**_latency_figure("protocol search p95: all kinds", latencies_all, 95, entries))
    with Session(engine) as session:
        registrar = session.scalar(select(ProtocolEntry.registered_by_id).limit(1))
    office = UnitReader()
    office.id = registrar  # sees every entry, as the registering office does its own
    for reader, label in ((UnitReader(), "other unit"), (office, "registrar")):
        _bench_reader(engine, entries, repeats, reader, label)
    engine.dispose()


def _bench_reader(engine: Engine, entries: int, repeats: int, reader: Any, label: str) -> None:
    """Latencies of every kind of search for one non-administrator reader."""
    for name, query in search_cases(entries).items():
        latencies = []
        with Session(engine) as session:
            for _ in range(repeats):
                started = time.perf_counter()
                search(session, query, reader)
                latencies.append((time.perf_counter() - started) * 1000)
                session.rollback()
        emit(**_latency_figure(f"protocol search p50 ({label}): {name}", latencies, 50, entries))
        emit(**_latency_figure(f"protocol search p95 ({label}): {name}", latencies, 95, entries))


_FLOOR_P50 = _FLOOR_P95 = 0.0


def _percentile(values: list[float], percentile: int) -> float:
    """The percentile of the values (p50 is the median)."""
    return statistics.quantiles(values, n=100)[percentile - 1] if len(values) > 1 else values[0]


def _latency_figure(name: str, latencies: list[float], percentile: int, entries: int) -> dict[str, Any]:
    """A latency line next to the primary-key fetch floor at the same percentile."""
    value = _percentile(latencies, percentile)
    floor = _FLOOR_P50 if percentile == 50 else _FLOOR_P95
    return {
        "name": name,
        "value": round(value, 2),
        "unit": "ms",
        "baseline": "ORM fetch of one entry by primary key",
        "baseline_value": round(floor, 3),
        "ratio": round(value / floor, 1),
        "entries": entries,
        "page": 50,
    }


@contextmanager
def database() -> Iterator[tuple[str, str]]:
    """A migrated database on a throwaway, durable (fsync on) cluster: (SQLAlchemy URL, DSN)."""
    root = Path(tempfile.mkdtemp(prefix="polis-bench-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach the cluster below
    cluster = PgCluster(root / "pg", durable=True)
    try:
        cluster.ensure_running()
        cluster.ensure_database("bench")
        upgrade_database(cluster.url("bench"))
        dsn = " ".join(f"{key}={value}" for key, value in cluster.libpq_kwargs("bench").items())
        yield cluster.url("bench"), dsn
    finally:
        cluster.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    """Parse the arguments and run both parts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--entries", type=int, default=1_000_000, help="entries loaded for search (0: skip search)"
    )
    parser.add_argument("--registrations", type=int, default=3200, help="per measurement")
    parser.add_argument("--repeats", type=int, default=40, help="runs of each search")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per client count")
    args = parser.parse_args()
    with database() as (url, dsn):
        bench_registrations(url, dsn, args.registrations, args.rounds)
        if args.entries <= 0:
            return
        with psycopg.connect(dsn) as connection:
            bulk_id = connection.execute(
                "INSERT INTO protocol_registries (code, name_el, name_en)"
                " VALUES ('BULK', 'Φόρτωση', 'Bulk') RETURNING id"
            ).fetchone()
        assert bulk_id is not None
        seconds = bulk_load(dsn, bulk_id[0], args.entries)
        emit(
            name="protocol bulk load",
            value=round(args.entries / seconds, 1),
            unit="entries per s",
            entries=args.entries,
        )
        bench_search(url, args.entries, args.repeats)


if __name__ == "__main__":
    main()
