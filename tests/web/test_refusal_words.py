"""A refusal no page has its own words for still opens in the reader's language.

The engine writes its refusals in English; a Greek reader first reads what happened and what
to do in Greek, then the engine's words for the specifics. Words already in Greek (a page's
own translation passed through the engine) are not wrapped twice.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PolisError, ServiceUnavailable
from engine.outgoing.errors import WrongState
from web.pages.org_messages import org_problem
from web.pages.staff.common import engine_words, problem_message


@pytest.mark.parametrize(
    ("error", "lead"),
    [
        (
            WrongState("The draft is already with the chain; wait for it or for a return."),
            "ανανεώστε τη σελίδα",
        ),
        (Conflict("taken"), "ανανεώστε τη σελίδα"),
        (PermissionDenied("Only the author changes the chain."), "δεν είναι δική σας αρμοδιότητα"),
        (NotFound("The document has no version 9."), "Δεν βρέθηκε"),
        (InvalidInput("name: give the saved chain a name."), "Δεν έγινε καμία αλλαγή"),
        (ServiceUnavailable("the TSA at http://tsa did not answer"), "δοκιμάστε ξανά σε λίγα λεπτά"),
        (PolisError("odd"), "δεν άλλαξε τίποτα"),
    ],
)
def test_greek_readers_get_a_greek_lead_then_the_details(app: Any, error: PolisError, lead: str) -> None:
    with app.test_request_context(headers={"Accept-Language": "el"}):
        for said in (engine_words(error), problem_message(error), org_problem(error)):
            assert lead.lower() in said.lower() and said.endswith(error.message), said
            assert "Λεπτομέρειες:" in said


def test_english_readers_get_the_engines_words_and_greek_words_are_not_wrapped(app: Any) -> None:
    error = InvalidInput("name: give the saved chain a name.")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert engine_words(error) == error.message
    already = InvalidInput("Επιλέξτε και τις δύο ημερομηνίες.")
    with app.test_request_context(headers={"Accept-Language": "el"}):
        assert engine_words(already) == already.message
