"""The catalogue's search and the form's conversions between browser strings and schema data."""

from __future__ import annotations

from forms.catalogue import get_service, list_services
from forms.catalogue_search import fold, group_by_category, search_services
from forms.html_form import answer_text, data_from_html, data_to_html, form_layout


def codes(query: str) -> list[str]:
    return [service.code for service in search_services(list_services(), query)]


def test_greek_with_or_without_accents_capitals_and_final_sigma_find_the_same() -> None:
    assert fold("ΠΙΣΤΟΠΟΙΗΤΙΚΌ Οικογενειακής") == fold("πιστοποιητικο οικογενειακησ")
    for query in (
        "πιστοποιητικό οικογενειακής",
        "πιστοποιητικο οικογενειακης",
        "ΠΙΣΤΟΠΟΙΗΤΙΚΟ ΟΙΚΟΓΕΝΕΙΑΚΗΣ",
    ):
        assert codes(query) == ["family_status"]


def test_english_words_and_every_word_must_match() -> None:
    assert codes("nursery") == ["nursery_enrolment"]
    assert codes("certificate family") == ["family_status"]
    assert codes("πιστοποιητικό ανύπαρκτο") == []
    assert len(codes("")) == len(list_services())


def test_groups_follow_the_category_order_and_sort_titles_in_the_language() -> None:
    groups = group_by_category(list_services(), "el")
    assert groups[0].code == "civil_registry"
    titles = [s.title.el for s in groups[0].services]
    assert titles == sorted(titles, key=fold)
    assert sum(len(g.services) for g in groups) == len(list_services())


def test_browser_strings_become_schema_data_and_back() -> None:
    service = get_service("family_status")
    posted = {"last_name": " Παπαδοπούλου ", "afm": "090000045", "amka": "", "purpose": "court"}
    data = data_from_html(service, posted)
    assert data == {"last_name": "Παπαδοπούλου", "afm": "090000045", "purpose": "court"}
    assert data_to_html(service, data)["purpose"] == "court"
    assert answer_text(service, "purpose", "court", "el") == "Δικαστήριο"
    assert answer_text(service, "birth_date", "1985-04-12", "en") == "12/04/1985"
    assert answer_text(service, "amka", None, "el") == "—"


def test_numbers_are_numbers_when_they_are_and_text_otherwise() -> None:
    service = next(
        s
        for s in list_services()
        if any(spec.get("type") == "integer" for spec in s.form_schema["properties"].values())
    )
    name = next(n for n, spec in service.form_schema["properties"].items() if spec.get("type") == "integer")
    assert data_from_html(service, {name: "3"})[name] == 3
    assert data_from_html(service, {name: "τρία"})[name] == "τρία"  # the schema then says why


def test_the_layout_lists_every_field_once_with_its_label() -> None:
    service = get_service("family_status")
    fields = [f for group in form_layout(service, "en") for f in group.fields]
    assert [f.name for f in fields] == list(service.ui["order"])
    afm = next(f for f in fields if f.name == "afm")
    assert (afm.label, afm.required, afm.inputmode) == ("Tax number (AFM)", True, "numeric")
