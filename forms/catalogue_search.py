"""Finding services in the catalogue by what people type: Greek with or without accents, English.

Both the query and the services' texts are folded the same way (accents and diaeresis dropped,
final sigma made σ, case ignored), so «πιστοποιητικο», «ΠΙΣΤΟΠΟΙΗΤΙΚΌ» and «Πιστοποιητικό»
find the same services. Every word of the query must appear somewhere in the service's title,
description, category or eligibility, in either language.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from forms.services import LocalText, Service

#: The catalogue's categories, in the order the portal lists them (codes in service_schema).
CATEGORY_TITLES: dict[str, LocalText] = {
    "civil_registry": LocalText("Δημοτολόγιο και πιστοποιητικά", "Civil registry and certificates"),
    "finance": LocalText("Οικονομικά και δημοτικά τέλη", "Finance and municipal charges"),
    "public_space": LocalText("Κοινόχρηστοι χώροι και άδειες", "Public space and permits"),
    "social": LocalText("Κοινωνικές υπηρεσίες", "Social services"),
    "administration": LocalText("Διοίκηση και γενικά αιτήματα", "Administration and general requests"),
}


def fold(text: str) -> str:
    """``text`` without accents, diaeresis or case, final sigma as σ: what search compares."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.replace("ς", "σ")


def _haystack(service: Service) -> str:
    texts = [service.title.el, service.title.en, service.description.el, service.description.en]
    category = CATEGORY_TITLES.get(service.category)
    if category:
        texts += [category.el, category.en]
    if service.eligibility:
        texts += [service.eligibility.el, service.eligibility.en]
    return fold(" ".join(texts))


def search_services(services: Iterable[Service], query: str) -> list[Service]:
    """The services whose texts contain every word of ``query`` (all of them for an empty query)."""
    words = fold(query).split()
    return [service for service in services if all(word in _haystack(service) for word in words)]


@dataclass(frozen=True)
class CategoryGroup:
    """The services of one category, for the catalogue page."""

    code: str
    title: LocalText
    services: tuple[Service, ...]


def group_by_category(services: Iterable[Service], locale: str) -> list[CategoryGroup]:
    """``services`` grouped by category (catalogue order), each group sorted by title in ``locale``."""
    chosen = list(services)
    groups = []
    for code, title in CATEGORY_TITLES.items():
        members = sorted((s for s in chosen if s.category == code), key=lambda s: fold(s.title.get(locale)))
        if members:
            groups.append(CategoryGroup(code, title, tuple(members)))
    return groups
