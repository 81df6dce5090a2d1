"""Outgoing-document fixtures: a municipality with a hierarchy (mayor's office → directorate →
department), a second department, the protocol office; the test PKI, the CSC dummy, the
organisation's seal and a mailbox on loopback SMTP."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.people.models import Department, User
from engine.requests.handlers import configure_handlers, reset_handlers
from engine.workflow import cache as workflow_cache
from engine.workflow.definitions import deploy_directory
from engine.workflow.timers import fire_due_wakeups_in
from signing.sealer import PadesLevel, Sealer
from signing.signers import Pkcs12Signer
from signing.two_step import TwoStepSigning
from storage.filesystem import FilesystemStore
from tests.signing.conftest import csc_url, greek_catalog, test_pki  # noqa: F401  (fixtures)
from tests.signing.pkitools import TestPki


@dataclass
class Municipality:
    """Mayor's office (mayor signs) ⊃ directorate (director, deputy) ⊃ department A (head, clerk);
    department B under the directorate; the protocol office."""

    mayor_office: Department
    directorate: Department
    a: Department
    b: Department
    protocol: Department
    mayor: User
    director: User
    deputy: User
    head_a: User
    clerk_a: User
    head_b: User
    clerk_b: User
    registrar: User


def make_municipality(session: Session) -> Municipality:
    """Create the units and staff (flushed, not committed)."""
    tag = uuid.uuid4().hex[:6]

    def unit(code: str, name: str, parent: Department | None = None) -> Department:
        department = Department(
            code=f"{code}{tag}", name_el=name, name_en=name, parent_id=parent.id if parent else None
        )
        session.add(department)
        session.flush()
        return department

    def user(name: str, roles: list[str], department: Department) -> User:
        person = User(
            username=f"{name.lower().replace(' ', '-')}-{tag}",
            full_name=name,
            email=f"{tag}.{len(name)}@example.gr",
            department_id=department.id,
            roles=roles,
        )
        session.add(person)
        session.flush()
        return person

    mayor_office = unit("M", "Γραφείο Δημάρχου")
    directorate = unit("D", "Διεύθυνση Διοικητικών Υπηρεσιών", mayor_office)
    a = unit("A", "Τμήμα Δημοτικής Κατάστασης", directorate)
    b = unit("B", "Τμήμα Προσωπικού", directorate)
    protocol = unit("P", "Γραφείο Πρωτοκόλλου", directorate)
    mayor = user("Μαρία Παπαδοπούλου", ["head"], mayor_office)
    director = user("Νίκος Διευθυντής", ["head"], directorate)
    deputy = user("Άννα Αναπληρώτρια", ["head"], directorate)
    head_a = user("Κώστας Προϊστάμενος", ["head"], a)
    clerk_a = user("Ελένη Υπάλληλος", ["clerk"], a)
    head_b = user("Σοφία Προϊσταμένη", ["head"], b)
    clerk_b = user("Πέτρος Υπάλληλος", ["clerk"], b)
    registrar = user("Γιάννης Πρωτοκόλλου", ["protocol_clerk"], protocol)
    mayor_office.head_user_id, directorate.head_user_id = mayor.id, director.id
    a.head_user_id, b.head_user_id = head_a.id, head_b.id
    session.flush()
    return Municipality(
        mayor_office,
        directorate,
        a,
        b,
        protocol,
        mayor,
        director,
        deputy,
        head_a,
        clerk_a,
        head_b,
        clerk_b,
        registrar,
    )


@pytest.fixture
def town(db_session: Session) -> Municipality:
    """The municipality inside the rolled-back test transaction, processes deployed."""
    deploy_directory(db_session)
    return make_municipality(db_session)


@pytest.fixture
def pki(test_pki: TestPki) -> Iterator[TestPki]:  # noqa: F811  (the imported fixture)
    """The session PKI, with every service switched back on after the test."""
    yield test_pki
    test_pki.server.down = set()
    test_pki.server.garbage_tsa = False


@pytest.fixture
def seal(pki: TestPki) -> Sealer:
    """The organisation's qualified e-seal at B-LT (it stamps the protocol number)."""
    return Sealer(
        Pkcs12Signer(pki.p12("qualified"), b"test-pass"),
        level=PadesLevel.B_LT,
        tsa_url=pki.pki.tsa_url,
        trust_roots=[pki.root],
    )


@pytest.fixture
def signing(pki: TestPki) -> TwoStepSigning:
    """Officials' qualified signatures at B-LT."""
    return TwoStepSigning(
        level=PadesLevel.B_LT, tsa_url=pki.pki.tsa_url, trust_roots=[pki.root], require_qualified="qct_esign"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.original_content or envelope.content)
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[SimpleNamespace]:
    """A real SMTP server on loopback (started by the test when it wants one)."""
    mailbox = Mailbox()
    port = _free_port()
    server = SimpleNamespace(mailbox=mailbox, port=port, controller=None)

    def start() -> None:
        # Made only when started: a Controller opens its event loop as soon as it exists.
        server.controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        server.controller.start()

    server.start = start
    yield server
    if server.controller is not None:
        server.controller.stop()


@pytest.fixture
def outgoing_settings(test_settings: Settings, smtp: SimpleNamespace) -> Settings:
    """The test settings, mail going to the loopback server."""
    return test_settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False, "smtp_user": None}
    )


@pytest.fixture
def handlers(outgoing_settings: Settings, object_store: FilesystemStore, seal: Sealer) -> Iterator[None]:
    """The service tasks use the test store, settings and seal."""
    configure_handlers(settings=outgoing_settings, store=object_store, sealer=seal)
    yield
    reset_handlers()


def restored(session: Session) -> None:
    """Forget everything in memory: the next step reads and restores from the database."""
    session.flush()
    workflow_cache.clear()
    session.expire_all()


def run_services(session: Session) -> None:
    """Run the due service tasks and timers, as the worker would."""
    while fire_due_wakeups_in(session):
        pass
    restored(session)
