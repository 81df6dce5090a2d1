"""The contact form: the subject the citizen picks decides the department that handles the
request (the service's ``routing``), through the general-request process, registered ΕΙΣ."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from engine.people.models import Department
from engine.protocol.models import ProtocolEntry
from engine.requests.submission import submit_request
from engine.workflow.models import Case
from forms.catalogue import CATALOGUE_DIR, CatalogueError, get_service, load_catalogue
from forms.services import SUBJECT_MAX_CHARS
from storage.filesystem import FilesystemStore
from tests.requests.conftest import applicant


@pytest.mark.parametrize(
    ("topic", "department"), [("technical", "TEX"), ("finance", "OIK"), ("other", "PROT")]
)
def test_the_subject_picks_the_department(
    municipality: Session, object_store: FilesystemStore, topic: str, department: str
) -> None:
    result = submit_request(
        municipality,
        object_store,
        service_code="contact",
        form={"topic": topic, "subject": "Σβηστός φανοστάτης", "text": "Στην οδό Χάληδων 12."},
        attachments=[],
        applicant=applicant(),
    )
    case = municipality.get(Case, result.case_id)
    assert case is not None and case.process_id == "general_request"
    handling = municipality.get(Department, case.department_id)
    assert handling is not None and handling.code == department
    assert " ΕΙΣ " in result.protocol_number
    assert municipality.query(ProtocolEntry).filter_by(case_id=case.id).one().direction == "ΕΙΣ"


def test_routing_must_cover_every_answer_of_a_required_choice(tmp_path: Path) -> None:
    root = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, root)
    path = root / "contact" / "service.json"
    doc = json.loads(path.read_text())
    doc["routing"]["departments"].pop("social")
    doc["form"]["schema"]["required"].remove("topic")
    path.write_text(json.dumps(doc, ensure_ascii=False))
    with pytest.raises(CatalogueError) as error:
        load_catalogue(root)
    assert "routing.departments: no department for the answer 'social'" in error.value.message
    assert "routing.field: 'topic' must be a required field" in error.value.message


def test_the_protocol_entry_is_registered_under_the_citizens_own_subject(
    municipality: Session, object_store: FilesystemStore
) -> None:
    result = submit_request(
        municipality,
        object_store,
        service_code="contact",
        form={"topic": "technical", "subject": "  Σβηστός\n φανοστάτης  ", "text": "Στην οδό Χάληδων 12."},
        attachments=[],
        applicant=applicant(),
    )
    entry = municipality.get(ProtocolEntry, result.protocol_entry_id)
    assert entry is not None and entry.subject == "Σβηστός φανοστάτης"


def test_a_subject_field_is_bounded_and_required(tmp_path: Path) -> None:
    service = get_service("contact")
    long = {"topic": "other", "subject": "α" * 900, "text": "κείμενο"}
    subject = service.protocol_subject(long)
    assert len(subject) == SUBJECT_MAX_CHARS and subject.endswith("…")
    assert get_service("family_status").protocol_subject({}).startswith("Αίτηση «")

    root = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, root)
    path = root / "contact" / "service.json"
    doc = json.loads(path.read_text())
    doc["subject_field"] = "text_missing"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    with pytest.raises(CatalogueError) as error:
        load_catalogue(root)
    assert "subject_field: 'text_missing' must be a text field" in error.value.message
