"""The service catalogue: loads whole, reports broken files precisely, validates submissions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.errors import NotFound
from forms.catalogue import (
    CATALOGUE_DIR,
    AttachmentInfo,
    CatalogueError,
    UnknownService,
    get_service,
    list_services,
    load_catalogue,
    validate_submission,
)
from forms.greek_ids import is_valid_afm, is_valid_amka, is_valid_greek_phone
from tests.citizens.samples import VALID_AFM, VALID_AMKA, sample_attachments, sample_data

ISSUE_SERVICES = {
    "family_status",
    "permanent_residence",
    "next_of_kin",
    "no_debts",
    "property_levy",
    "public_space_use",
    "nursery_enrolment",
    "council_decision_copy",
}


def test_the_catalogue_ships_the_eight_services_of_the_issue():
    codes = {service.code for service in list_services()}
    assert codes >= ISSUE_SERVICES
    family = get_service("family_status")
    assert family.title.el == "Πιστοποιητικό οικογενειακής κατάστασης"
    assert family.deadline_working_days == 10
    assert family.validity_months == 6
    assert family.department == "DHM"
    assert family.process == "certificate_issuance"
    assert family.certificate_template.is_file()
    assert str(get_service("public_space_use").fee_eur) == "20.00"


@pytest.mark.parametrize("code", sorted(ISSUE_SERVICES))
def test_a_complete_submission_is_accepted(code):
    service = get_service(code)
    assert validate_submission(code, sample_data(service), sample_attachments(service)) == []


def test_unknown_service_is_a_not_found_naming_the_real_ones():
    with pytest.raises(UnknownService) as error:
        validate_submission("no_such'; DROP TABLE cases;--", {})
    assert isinstance(error.value, NotFound)
    assert "family_status" in error.value.message


def test_missing_fields_are_named_in_greek_and_english():
    service = get_service("family_status")
    data = sample_data(service)
    del data["afm"], data["last_name"]
    errors = validate_submission("family_status", data, sample_attachments(service))
    assert {e.field for e in errors} == {"afm", "last_name"}
    afm = next(e for e in errors if e.field == "afm")
    assert afm.el == "ΑΦΜ: υποχρεωτικό πεδίο· συμπληρώστε το."
    assert afm.en == "Tax number (AFM): required; please fill it in."


@pytest.mark.parametrize(
    ("field", "value", "english"),
    [
        ("afm", "123456789", "valid check digit"),
        ("amka", "32018012342", "AMKA has 11 digits"),
        ("birth_date", "1/1/1980", "YYYY-MM-DD"),
        ("phone", "12345", "Greek phone number"),
        ("postal_code", "ABCDE", "format is not right"),
        ("purpose", "bribe", "choose one of: General use"),
        ("first_name", 42, "must be text"),
        ("last_name", "Π", "at least 2 characters"),
    ],
)
def test_bad_values_get_readable_messages(field, value, english):
    service = get_service("family_status")
    data = sample_data(service) | {field: value}
    errors = validate_submission("family_status", data, sample_attachments(service))
    assert len(errors) == 1, errors
    assert errors[0].field == field
    assert english in errors[0].en
    assert errors[0].el


def test_unknown_fields_and_non_objects_are_refused():
    service = get_service("no_debts")
    data = sample_data(service) | {"is_admin": True}
    errors = validate_submission("no_debts", data, sample_attachments(service))
    assert [e.en for e in errors] == ["Unknown field 'is_admin'; remove it."]
    assert validate_submission("no_debts", ["not", "a", "form"])[0].en.startswith("The form data")


def test_attachment_rules():
    service = get_service("permanent_residence")
    data = sample_data(service)
    errors = validate_submission(
        "permanent_residence",
        data,
        [
            AttachmentInfo("id_copy", "../../etc/passwd", "application/pdf", 100),
            AttachmentInfo("lease", "lease.exe", "application/x-dosexec", 100),
            {"key": "lease", "filename": "lease.pdf", "content_type": "application/pdf", "size": 11 * 2**20},
            AttachmentInfo("selfie", "me.jpg", "image/jpeg", 100),
        ],
    )
    messages = [e.en for e in errors]
    assert any("unacceptable file name" in m for m in messages)
    assert any("this kind of file (application/x-dosexec) is not accepted" in m for m in messages)
    assert any("larger than 10 MB" in m for m in messages)
    assert any("Unknown attachment kind 'selfie'" in m for m in messages)
    assert any(m.startswith("Utility bill") and "required attachment" in m for m in messages)
    assert any("at most 1 files" in m for m in messages)


def test_windows_paths_and_control_characters_in_file_names_are_refused():
    service = get_service("no_debts")
    for name in ("C:\\Users\\x\\id.pdf", "id\x00.pdf", "", ".."):
        errors = validate_submission(
            "no_debts", sample_data(service), [AttachmentInfo("id_copy", name, "application/pdf", 10)]
        )
        assert [e.en for e in errors] == [
            "Copy of identity card or passport: unacceptable file name; send the bare name, without folders."
        ], name


@pytest.mark.parametrize(
    ("value", "valid"),
    [(VALID_AFM, True), ("094014201", True), ("123456789", False), ("000000000", False), ("09000004", False)],
)
def test_afm_check_digit(value, valid):
    assert is_valid_afm(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [(VALID_AMKA, True), ("01018012343", False), ("31028012345", False), ("0101801234", False)],
)
def test_amka(value, valid):
    assert is_valid_amka(value) is valid


def test_greek_phone_numbers():
    assert is_valid_greek_phone("+30 691 234 5678")
    assert is_valid_greek_phone("2821012345")
    assert not is_valid_greek_phone("+44 7700 900123")


# A broken catalogue -------------------------------------------------------------------


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    root = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, root)
    return root


def _edit(root: Path, code: str, change) -> Path:
    path = root / code / "service.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False))
    return path


def test_a_copy_loads_and_a_new_folder_is_a_new_service(catalogue_copy):
    shutil.copytree(catalogue_copy / "no_debts", catalogue_copy / "no_debts_business")
    _edit(catalogue_copy, "no_debts_business", lambda d: d.update(code="no_debts_business"))
    catalogue = load_catalogue(catalogue_copy)
    assert catalogue.get("no_debts_business").title.el.startswith("Βεβαίωση μη οφειλής")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["title"].pop("en"), "title: 'en' is a required property"),
        (lambda d: d.update(fee_eur=-1), "fee_eur: -1 is less than the minimum of 0"),
        (lambda d: d.update(code="other_code"), "code: 'other_code' must equal the folder name"),
        (lambda d: d["form"]["ui"]["order"].remove("afm"), "form.ui.order: field 'afm' is missing"),
        (lambda d: d["form"]["ui"]["fields"].pop("afm"), "form.ui.fields.afm: missing"),
        (
            lambda d: d["form"]["schema"]["properties"]["afm"].update(format="afn"),
            "form.schema: unknown format 'afn'",
        ),
        (
            lambda d: d["form"]["schema"]["properties"]["afm"].update(type="strng"),
            "form.schema.properties.afm",
        ),
        (lambda d: d["attachments"][0].update(max_bytes=0), "attachments.0.max_bytes"),
        (lambda d: d.update(certificate_template="missing.html"), "'missing.html' does not exist"),
        (lambda d: d["form"]["ui"]["fields"]["purpose"].pop("options"), "form.ui.fields.purpose.options"),
    ],
)
def test_problems_name_the_file_and_the_field(catalogue_copy, change, expected):
    path = _edit(catalogue_copy, "family_status", change)
    with pytest.raises(CatalogueError) as error:
        load_catalogue(catalogue_copy)
    assert str(path) in error.value.message
    assert expected in error.value.message


def test_bad_json_and_bad_template_syntax(catalogue_copy):
    (catalogue_copy / "no_debts" / "service.json").write_text('{"code": "no_debts",,}')
    (catalogue_copy / "family_status" / "certificate.html").write_text("{% if %}")
    with pytest.raises(CatalogueError) as error:
        load_catalogue(catalogue_copy)
    assert "no_debts/service.json: not valid JSON at line 1" in error.value.message
    assert "certificate.html line 1" in error.value.message


def test_a_business_certificate_needs_the_business_details():
    service = get_service("no_debts")
    data = sample_data(service) | {"holder": "business"}
    del data["business_afm"]
    errors = validate_submission("no_debts", data, sample_attachments(service))
    assert [(e.field, e.en) for e in errors] == [
        ("business_afm", "Business tax number: required; please fill it in.")
    ]
    data = sample_data(service) | {"holder": "person"}
    del data["business_afm"], data["business_name"]
    assert validate_submission("no_debts", data, sample_attachments(service)) == []


def test_a_permit_cannot_end_before_it_starts():
    service = get_service("public_space_use")
    data = sample_data(service) | {"start_date": "2027-05-01", "end_date": "2027-04-30"}
    errors = validate_submission("public_space_use", data, sample_attachments(service))
    assert [(e.field, e.en) for e in errors] == [("end_date", "Until: cannot be before “From”.")]
    assert errors[0].el == "Έως: δεν μπορεί να είναι πριν από «Από»."


def test_a_rule_on_a_non_date_field_is_a_catalogue_error(catalogue_copy):
    _edit(
        catalogue_copy,
        "family_status",
        lambda d: d["form"].update(rules=[{"rule": "not_before", "field": "afm", "other": "birth_date"}]),
    )
    with pytest.raises(CatalogueError, match=r"form.rules.0.field: 'afm' must be a date field"):
        load_catalogue(catalogue_copy)
