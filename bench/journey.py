"""A citizen's certificate request through Polis's service layer, start to sealed PDF.

Each case: submit (files stored, ΕΙΣ registered, case started, notice queued), the clerk
claims and proposes approval, the head approves, then the worker's five service steps
(ΕΞ registration, PDF/A rendering, PAdES seal, outcome, notice) — every step its own
committed transaction on a durable (fsync on) PostgreSQL cluster, files in a filesystem
store, the seal timestamped by a TSA on loopback.

The baseline is the work no certificate service can skip, measured in the same run: render
the same certificate with WeasyPrint and seal it at the same level, nothing else. The
ratio says how much of a case's time is that work; the shares say where the rest goes.

Run: .venv/bin/python bench/journey.py [--cases 20] [--level B-T]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, select

from core.database import upgrade_database
from core.orm import make_engine, make_session_factory, session_scope
from core.pgcluster import PgCluster
from core.settings import Settings
from engine.domains import load_domains
from engine.issuing import certificates
from engine.issuing.registry import new_verification_code
from engine.people.demo import seed_demo_municipality
from engine.people.models import Department, User
from engine.requests import ApplicantInfo, Upload, submit_request
from engine.requests import handlers as request_handlers
from engine.workflow.commands import claim_task, complete_task
from engine.workflow.definitions import deploy_directory
from engine.workflow.models import CaseTask
from engine.workflow.timers import fire_due_wakeups_in
from forms.catalogue import get_service
from signing.pki import LeafSpec, Pki, PkiNames, PkiServer, build_config, write_pki
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs12Signer
from signing.stamp import Stamp
from storage.filesystem import FilesystemStore
from tests.citizens.samples import sample_data
from tests.requests.conftest import PDF_BYTES

SERVICE = "family_status"


class Clock:
    """Seconds spent in each kind of work, summed over the run."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)

    @contextmanager
    def timing(self, kind: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.spent[kind] += time.perf_counter() - start

    def wrap(self, kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(kind):
                return fn(*args, **kwargs)

        return timed


def emit(**figure: Any) -> None:
    print(json.dumps(figure, ensure_ascii=False), flush=True)


def instrument_database(engine: Any, clock: Clock) -> None:
    """Count time in SQL statements and commits (the server's share, plus the driver's)."""
    starts: dict[int, float] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, many: Any) -> None:
        starts[id(cursor)] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, many: Any) -> None:
        clock.spent["database"] += time.perf_counter() - starts.pop(id(cursor), time.perf_counter())

    original = engine.dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        with clock.timing("database"):
            original(dbapi_connection)

    engine.dialect.do_commit = do_commit


def one_case(
    factory: Any, store: FilesystemStore, settings: Settings, clerk: User, head: User, n: int
) -> None:
    """One request from submission to the sealed certificate and the notice."""
    with session_scope(factory) as session:
        submitted = submit_request(
            session,
            store,
            service_code=SERVICE,
            form={k: v for k, v in sample_data(get_service(SERVICE)).items() if v is not None},
            attachments=[Upload("id_copy", "id.pdf", _stream())],
            applicant=ApplicantInfo(name="Ελένη Παπαδοπούλου", email=f"c{n}@example.gr", channel="email"),
            settings=settings,
        )
    with session_scope(factory) as session:
        review = session.scalar(select(CaseTask.task_id).where(CaseTask.case_id == submitted.case_id))
        assert review is not None
        claim_task(session, review, clerk)
    with session_scope(factory) as session:
        complete_task(session, review, {"decision": "propose_approval"}, clerk)
    with session_scope(factory) as session:
        approve = session.scalar(select(CaseTask.task_id).where(CaseTask.case_id == submitted.case_id))
        assert approve is not None
        complete_task(session, approve, {"decision": "approve"}, head)
    ran = 0
    while True:  # as the worker does: one service step per transaction
        with session_scope(factory) as session:
            step = fire_due_wakeups_in(session, limit=1)
        if not step:
            break
        ran += step
    assert ran == 5, ran


def _stream() -> io.BytesIO:
    return io.BytesIO(PDF_BYTES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--level", default="B-T", choices=["B-B", "B-T", "B-LT"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="polis-bench-journey-"))
    root.chmod(0o755)
    pki_server = PkiServer()
    cluster = PgCluster(root / "pg", durable=True)
    try:
        write_pki(
            root / "pki",
            build_config(
                url_prefix=pki_server.url_prefix,
                arch="bench",
                names=PkiNames(),
                leaves=[LeafSpec("signer", "Δήμος Χανίων")],
            ),
        )
        pki = Pki.load(root / "pki")
        pki_server.mount(pki)
        pki_server.start()
        (root / "signer.p12").write_bytes(pki.pkcs12("signer", b"bench"))
        level = PadesLevel.parse(args.level)
        sealer = Sealer(
            Pkcs12Signer(root / "signer.p12", b"bench"),
            level=level,
            tsa_url=pki.tsa_url if level is not PadesLevel.B_B else None,
            trust_roots=[pki.cert("root")],
        )
        cluster.ensure_running()
        cluster.ensure_database("bench")
        url = cluster.url("bench")
        upgrade_database(url)
        settings = Settings(
            env="test",
            var_dir=root / "var",
            database_url=url,
            storage_url=(root / "objects").as_uri(),
            secret_key="bench-secret-key-bench-secret-key",
            base_url="https://polis.chania.gr",
            municipality_name="Δήμος Χανίων",
        )
        store = FilesystemStore(root / "objects", secret=settings.secret(), base_url=settings.public_base_url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            seed_demo_municipality(session)
            deploy_directory(session)
            department = session.scalars(
                select(Department).where(Department.code == get_service(SERVICE).department)
            ).one()
            users = session.scalars(select(User).where(User.department_id == department.id)).all()
            clerk = next(u for u in users if "clerk" in u.roles)
            head = next(u for u in users if u.id == department.head_user_id)
            session.expunge_all()
        load_domains()
        request_handlers.configure_handlers(settings=settings, store=store, sealer=sealer)
        service = get_service(SERVICE)
        form = {k: v for k, v in sample_data(service).items() if v is not None}

        def bare() -> None:  # the unavoidable work: fill the template, print PDF/A, seal
            code = new_verification_code()
            pdf = certificates.render_certificate_pdf(
                service,
                form,
                certificates.CertificateContext(
                    municipality_name="Δήμος Χανίων",
                    case_number="2026/000001",
                    issued_at=datetime.now(UTC),
                    verification_url=f"https://polis.chania.gr/verify/{code}",
                    verification_code=code,
                ),
            )
            sealer.seal(
                pdf, Stamp(verification_url=f"https://polis.chania.gr/verify/{code}", verification_code=code)
            )

        one_case(factory, store, settings, clerk, head, -1)  # warm up: fonts, templates, caches
        bare()
        bare_start = time.perf_counter()
        for _ in range(args.cases):
            bare()
        bare_rate = args.cases / (time.perf_counter() - bare_start)

        clock = Clock()
        instrument_database(engine, clock)
        request_handlers.render_certificate_pdf = clock.wrap("pdf", request_handlers.render_certificate_pdf)  # type: ignore[attr-defined]
        sealer.seal = clock.wrap("signing", sealer.seal)  # type: ignore[method-assign]
        start = time.perf_counter()
        for n in range(args.cases):
            one_case(factory, store, settings, clerk, head, n)
        elapsed = time.perf_counter() - start
        rate = args.cases / elapsed
        emit(
            name="certificate requests, submission to sealed PDF",
            value=round(rate, 2),
            unit="per s",
            baseline="render PDF/A + seal only",
            baseline_value=round(bare_rate, 2),
            ratio=round(rate / bare_rate, 3),
            clients=1,
            level=args.level,
            cases=args.cases,
            transactions_per_case=9,
        )
        other = elapsed - sum(clock.spent.values())
        shares = {**clock.spent, "engine and python": other}
        for kind, seconds in sorted(shares.items(), key=lambda item: -item[1]):
            emit(
                name=f"time share: {kind}",
                value=round(100 * seconds / elapsed, 1),
                unit="%",
                ms_per_case=round(1000 * seconds / args.cases, 1),
                cases=args.cases,
                level=args.level,
            )
        engine.dispose()
    finally:
        pki_server.stop()
        cluster.stop(mode="fast")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
