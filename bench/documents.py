"""Incoming documents benchmark: registrations with χρέωση per second, next to the raw locked
counter rate of the same run.

Run on its own: ``.venv/bin/python bench/documents.py``. A throwaway durable cluster (fsync
on) is migrated and the processes deployed. One operation is what the protocol office's
registration page does in one transaction: store the scanned letter (SHA-256), take the ΕΙΣ
number, create the document and assign it to 10 units — one incoming_document case started
per for-action unit, a copy per for-information unit. The baseline is the raw work numbering
cannot avoid (``bench/protocol.py``): ``UPDATE`` of the locked counter row ``… RETURNING`` +
entry ``INSERT`` + ``COMMIT`` over plain psycopg, alternated with ours in rounds.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.orm import make_session_factory, session_scope
from engine.documents.registration import IncomingFile, IncomingForm, register_incoming
from engine.people.models import Department, User
from engine.protocol.models import Registry
from engine.workflow.definitions import deploy_directory
from storage.filesystem import FilesystemStore

_spec = importlib.util.spec_from_file_location("bench_protocol", Path(__file__).with_name("protocol.py"))
assert _spec is not None and _spec.loader is not None
bench_protocol = importlib.util.module_from_spec(_spec)
sys.modules["bench_protocol"] = bench_protocol  # its dataclasses look their module up by name
_spec.loader.exec_module(bench_protocol)  # the shared helpers: cluster, clients, raw baseline, emit

LETTER = b"%PDF-1.4\n" + b"0" * 40_000 + b"\n%%EOF\n"  # a 40 kB scan


def setup(engine: Engine) -> tuple[User, list[uuid.UUID]]:
    """The protocol clerk and ten units with a head each; the processes deployed."""
    with session_scope(make_session_factory(engine)) as session:
        deploy_directory(session)
        office = Department(code="PROT", name_el="Πρωτόκολλο", name_en="Protocol")
        session.add(office)
        session.flush()
        clerk = User(
            username="registrar", full_name="Registrar", department_id=office.id, roles=["protocol_clerk"]
        )
        session.add(clerk)
        units = [Department(code=f"U{n:02d}", name_el=f"Μονάδα {n}", name_en=f"Unit {n}") for n in range(10)]
        session.add_all(units)
        session.flush()
        return clerk, [unit.id for unit in units]


def service_client(
    engine: Engine,
    store: FilesystemStore,
    clerk_id: uuid.UUID,
    action: list[uuid.UUID],
    info: list[uuid.UUID],
) -> Callable[[], None]:
    """Our path: register_incoming with χρέωση, one unit of work as the web request runs it."""
    sessions = make_session_factory(engine)
    form = IncomingForm(
        subject="Πρόσκληση σε σύσκεψη",
        document_type="letter",
        sender="Περιφέρεια Κρήτης",
        delivery_method="post",
        for_action=tuple(action),
        for_information=tuple(info),
        files=(IncomingFile("scan.pdf", LETTER, "application/pdf"),),
    )

    def operation() -> None:
        with session_scope(sessions) as session:
            clerk = session.get(User, clerk_id)
            assert clerk is not None
            register_incoming(session, store, form, registered_by=clerk)

    return operation


def main() -> None:
    """Measure 1 and 8 clients, two mixes of the 10 recipients, alternating with the baseline."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registrations", type=int, default=160, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per setting")
    args = parser.parse_args()
    with bench_protocol.database() as (url, dsn), tempfile.TemporaryDirectory() as objects:
        engine = create_engine(url, pool_size=10, max_overflow=0)
        store = FilesystemStore(Path(objects), secret="b" * 32, base_url="http://bench.invalid")
        clerk, units = setup(engine)
        with session_scope(make_session_factory(engine)) as session:
            session.execute(
                Registry.__table__.insert().values(code="RAW", name_el="Βάση", name_en="Baseline")
            )
            raw_id = session.scalar(select(Registry.id).where(Registry.code == "RAW"))
        mixes = {"5 for action + 5 for information": (units[:5], units[5:]), "10 for action": (units, [])}
        for clients in (1, 8):
            for label, (action, info) in mixes.items():
                baseline_runs, ours_runs = [], []
                for _ in range(args.rounds):
                    baseline_runs.append(
                        bench_protocol.run_clients(
                            clients,
                            args.registrations * 4,
                            lambda: bench_protocol.raw_client(dsn, raw_id, clerk.id),
                        )
                    )
                    ours_runs.append(
                        bench_protocol.run_clients(
                            clients,
                            args.registrations,
                            lambda a=action, i=info: service_client(engine, store, clerk.id, a, i),
                        )
                    )
                baseline, ours = statistics.median(baseline_runs), statistics.median(ours_runs)
                bench_protocol.emit(
                    name=f"incoming registrations with χρέωση to 10 units ({label})",
                    value=round(ours, 1),
                    unit="per s",
                    baseline="raw locked counter update+insert+commit",
                    baseline_value=round(baseline, 1),
                    ratio=round(ours / baseline, 3),
                    clients=clients,
                    rounds=args.rounds,
                    cases_per_registration=len(action),
                )
        engine.dispose()


if __name__ == "__main__":
    main()
