"""Valid sample submissions for every catalogue service, built from one table of values."""

from __future__ import annotations

from typing import Any

from forms.catalogue import AttachmentInfo, Service

VALID_AFM = "090000045"
VALID_AMKA = "01018012342"  # 1 Jan 1980, Luhn check digit 2

VALUES: dict[str, Any] = {
    "last_name": "Παπαδοπούλου",
    "first_name": "Ελένη",
    "father_name": "Γεώργιος",
    "afm": VALID_AFM,
    "amka": VALID_AMKA,
    "id_number": "ΑΒ 123456",
    "street": "Οδός Χάληδων 12",
    "postal_code": "731 32",
    "city": "Χανιά",
    "email": "eleni@example.gr",
    "phone": "6912345678",
    "birth_date": "1980-01-01",
    "registry_number": "1234",
    "purpose": None,  # first enum value
    "residing_since": "2015-06-01",
    "deceased_last_name": "Παπαδόπουλος",
    "deceased_first_name": "Γεώργιος",
    "deceased_father_name": "Ιωάννης",
    "date_of_death": "2026-10-01",
    "place_of_death": "Χανιά",
    "business_name": "Καφέ Λιμάνι ΟΕ",
    "business_afm": VALID_AFM,
    "property_street": "Τζανακάκη 5",
    "property_postal_code": "73134",
    "kaek": "050011234567",
    "power_supply_number": "123456789",
    "area_m2": 85.5,
    "location": "Πεζοδρόμιο μπροστά από Ακτή Κουντουριώτη 20",
    "start_date": "2027-04-01",
    "end_date": "2027-10-31",
    "notes": "Έξι τραπέζια",
    "child_last_name": "Παπαδοπούλου",
    "child_first_name": "Μαρία",
    "child_birth_date": "2024-03-15",
    "child_amka": "15032400010",
    "both_parents_working": True,
    "single_parent": False,
    "children_count": 2,
    "annual_family_income_eur": 28500,
    "decision_number": 245,
    "decision_year": 2025,
    "ada": "6ΞΡΚΩΗΓ-ΡΣΟ",
    "subject": "Κανονισμός κοινόχρηστων χώρων",
    "legitimate_interest": "Είμαι όμορος ιδιοκτήτης και η απόφαση αφορά το ακίνητό μου.",
}


def sample_data(service: Service) -> dict[str, Any]:
    """A valid form submission for ``service`` (every field filled)."""
    data = {}
    for name, schema in service.form_schema["properties"].items():
        value = VALUES.get(name)
        if "enum" in schema:
            value = schema["enum"][0]
        data[name] = value
    return data


def sample_attachments(service: Service) -> list[AttachmentInfo]:
    """One acceptable file for every required attachment of ``service``."""
    return [
        AttachmentInfo(spec.key, f"{spec.key}.pdf", "application/pdf", 120_000)
        for spec in service.attachments
        if spec.required
    ]
