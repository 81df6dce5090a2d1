"""Citizen services: certificate PDFs, submission checks and notification delivery, each
next to a baseline measured in the same run.

Run: .venv/bin/python bench/citizens.py [--pdfs 20] [--notifications 300]
Prints one JSON line per figure. Delivery uses a throwaway, durable (fsync on) cluster
and an aiosmtpd server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import smtplib
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.controller import Controller
from jsonschema import Draft202012Validator

from core.database import upgrade_database
from core.orm import make_engine, make_session_factory, session_scope
from core.pgcluster import PgCluster
from engine.domains import load_domains
from engine.issuing.certificates import CertificateContext, render_certificate_html, render_certificate_pdf
from engine.notifications.outbox import deliver_due, enqueue_notification
from engine.notifications.senders import SmtpSender
from forms.catalogue import get_service, validate_submission

load_domains()  # as every Polis process does at start
from tests.citizens.samples import sample_attachments, sample_data

CONTEXT = CertificateContext(
    municipality_name="Δήμος Χανίων",
    case_number="2026-000123",
    issued_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
    verification_url="https://polis.chania.gr/verify/K7QX-93FD",
    verification_code="K7QX-93FD",
)
VALUES = {
    "applicant_name": "Ελένη Παπαδοπούλου",
    "case_number": "2026-000123",
    "service_title": "Πιστοποιητικό οικογενειακής κατάστασης",
    "tracking_url": "https://polis.chania.gr/track/K7QX93FD",
    "tracking_code": "K7QX93FD",
    "municipality_name": "Δήμος Χανίων",
}


def emit(name: str, value: float, baseline: str, baseline_value: float, clients: int = 1) -> None:
    """One JSON line."""
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 1),
                "unit": "per s",
                "baseline": baseline,
                "baseline_value": round(baseline_value, 1),
                "ratio": round(value / baseline_value, 3),
                "clients": clients,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def rate(count: int, fn: Callable[[], Any]) -> float:
    """Calls of ``fn`` per second over ``count`` calls."""
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - start)


def bench_pdfs(count: int) -> None:
    """Certificate PDF/A-2b versus WeasyPrint printing the same HTML as a plain PDF."""
    from weasyprint import HTML

    service = get_service("family_status")
    data = sample_data(service)
    html = render_certificate_html(service, data, CONTEXT)
    HTML(string=html).write_pdf()  # warm fonts and Pango
    plain = rate(count, lambda: HTML(string=html).write_pdf())
    ours = rate(count, lambda: render_certificate_pdf(service, data, CONTEXT))
    emit("certificate PDF/A-2b renders", ours, "weasyprint plain PDF of the same HTML", plain)


def bench_validation(count: int) -> None:
    """Our submission check (schema + rules + attachments + messages) versus bare jsonschema."""
    service = get_service("public_space_use")
    data, attachments = sample_data(service), sample_attachments(service)
    validator = Draft202012Validator(service.form_schema)
    bare = rate(count, lambda: validator.is_valid(data))
    ours = rate(count, lambda: validate_submission("public_space_use", data, attachments))
    emit("submission validations", ours, "bare jsonschema is_valid", bare)


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 OK"


def bench_delivery(count: int) -> None:
    """Outbox delivery (lock, send, mark, commit per message) versus direct smtplib sends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    root = Path(tempfile.mkdtemp(prefix="polis-bench-"))
    root.chmod(0o755)
    cluster = PgCluster(root / "pg", durable=True)
    cluster.ensure_running()
    try:
        cluster.ensure_database("bench")
        url = cluster.url("bench")
        upgrade_database(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        now = datetime.now(UTC)
        with session_scope(factory) as session:
            for i in range(count):
                enqueue_notification(
                    session,
                    channel="email",
                    recipient=f"citizen{i}@example.gr",
                    locale="el",
                    template_key="request_received",
                    values=VALUES,
                    now=now,
                )

        def direct() -> None:
            message = EmailMessage()
            message["Subject"], message["From"], message["To"] = "Δοκιμή", "a@example.gr", "b@example.gr"
            message.set_content("Γεια σας")
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.send_message(message)

        baseline = rate(count, direct)
        sender = SmtpSender("127.0.0.1", port, sender="Δήμος <noreply@example.gr>", starttls=False)
        start = time.perf_counter()
        report = deliver_due(factory, now, senders={"email": sender}, limit=count)
        ours = len(report.sent) / (time.perf_counter() - start)
        assert len(report.sent) == count, report
        emit("notification deliveries (outbox)", ours, "direct smtplib send", baseline)
        engine.dispose()
    finally:
        controller.stop()
        cluster.stop(mode="fast")
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    """Run every figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pdfs", type=int, default=20)
    parser.add_argument("--validations", type=int, default=2000)
    parser.add_argument("--notifications", type=int, default=300)
    args = parser.parse_args()
    bench_validation(args.validations)
    bench_pdfs(args.pdfs)
    bench_delivery(args.notifications)


if __name__ == "__main__":
    main()
