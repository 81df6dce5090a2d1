"""The BPMN service task ``register_protocol``: processes register their documents here.

For the engine: call ``register_protocol(session, data, params)`` inside the transaction that
advances the case (the case row is locked then; do not commit in between). It returns the
:class:`ProtocolEntry`; put ``describe(entry)`` or just ``entry.display_number`` into the case
data as the process needs.

``params`` (the task's configured parameters, plus what the engine knows):

* ``direction`` (required): ``ΕΙΣ``/``ΕΞ``/``ΕΣΩ`` or ``incoming``/``outgoing``/``internal``.
* ``subject``: literal text, or ``subject_field``: the key in ``data`` holding it. Either is
  required; ``subject`` may contain ``{key}`` placeholders filled from ``data``
  (plain ``str.format_map``; no expressions are evaluated).
* ``registry``: registry code (default ``GEN``).
* ``sender_field`` / ``recipients_field`` / ``copies_field``: keys in ``data``
  (or the literal ``sender`` / ``recipients`` / ``copies``).
* ``sender_reference_field`` / ``sender_date_field``, ``document_type``, ``classification``,
  ``delivery_method``, ``attachments_count``, ``attachments_description``.
* ``files_field``: key in ``data`` with a list of ``{storage_key, sha256, filename, size,
  content_type}`` (files already stored through ``storage``).
* ``related_field``: key in ``data`` with entry ids to refer to.
* ``case_id``, ``case_number``: the case being advanced (the engine passes them).
* ``registered_by``: the acting ``engine.people.models.User`` (None for system registrations).
* ``now``: optional clock (tests).
* ``result_key``: the case-data key the entry is returned under (default ``protocol_entry``).

Bad parameters or data raise :class:`engine.protocol.errors.InvalidEntry` (an InvalidInput)
before any number is taken.

The engine's job loop calls :func:`handle_service_call` (registered as ``register_protocol``
in engine.protocol.handlers) with the case's own transaction in ``call.session``: a failed
case step followed by a retry can never register the same document twice under two numbers.
The task's parameters come from ``data["protocol"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from typing import Any

from sqlalchemy.orm import Session

from engine.protocol.drafts import draft_from_mapping
from engine.protocol.entries import register
from engine.protocol.errors import InvalidEntry
from engine.protocol.models import ProtocolEntry
from engine.workflow.service_tasks import ServiceCall

_COPIED = (
    "direction",
    "registry",
    "document_type",
    "classification",
    "delivery_method",
    "attachments_count",
    "attachments_description",
    "case_number",
)
_FROM_DATA = (
    "subject",
    "sender",
    "sender_reference",
    "sender_date",
    "recipients",
    "copies",
    "files",
    "related",
    "case_id",
)


def register_protocol(session: Session, data: Mapping[str, Any], params: Mapping[str, Any]) -> ProtocolEntry:
    """Register the document a process step produces or receives; returns the entry."""
    request: dict[str, Any] = {name: params[name] for name in _COPIED if name in params}
    for name in _FROM_DATA:
        field = params.get(f"{name}_field")
        if field is not None:
            if field not in data:
                raise InvalidEntry(
                    f"The process data has no {field!r} for the protocol {name}; check the"
                    f" task's {name}_field parameter.",
                    fields={name: f"missing data key {field}"},
                )
            request[name] = data[field]
        elif name in params:
            request[name] = params[name]
    if isinstance(request.get("subject"), str) and "{" in request["subject"]:
        request["subject"] = _fill(request["subject"], data)
    if params.get("case_id") is not None:
        request["case_id"] = params["case_id"]
    draft = draft_from_mapping(request)
    return register(session, draft, registered_by=params.get("registered_by"), now=params.get("now"))


def _fill(template: str, data: Mapping[str, Any]) -> str:
    """Fill ``{key}`` placeholders from the case data; nothing else is interpreted."""
    for _, name, spec, conversion in Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion or name not in data:
            raise InvalidEntry(
                f"The subject template uses {{{name}}}, which is not a plain key of the case data.",
                fields={"subject": "bad placeholder"},
            )
    return template.format_map({key: data[key] for key in data if isinstance(key, str)})


#: The key of the task data holding the registration parameters (set by the process).
PARAMS_KEY = "protocol"
#: The key under which the registered entry is put back into the task data.
RESULT_KEY = "protocol_entry"


def handle_service_call(call: ServiceCall) -> dict[str, Any]:
    """Adapter for the engine's service tasks: register in the case's own transaction
    (``call.session``), and return the data to merge into the case."""
    session = call.session
    params = call.params or call.data.get(PARAMS_KEY)
    if not isinstance(params, Mapping) or not params:
        raise InvalidEntry(
            f"The service task {call.bpmn_id} has no registration parameters: give it input"
            " parameters (Camunda Modeler: Inputs; e.g. direction = ΕΞ, subject_field = title) or"
            f" put them in the task data under '{PARAMS_KEY}'.",
        )
    params = dict(params)
    if isinstance(params.get("related"), list):
        # ``${protocol_in.entry_id}`` of a case started without a registration resolves to
        # nothing: there is simply no earlier entry to refer to.
        params["related"] = [value for value in params["related"] if value is not None]
    entry = register_protocol(
        session, call.data, {**params, "case_id": call.case_id, "case_number": call.case_number}
    )
    return {
        str(params.get("result_key") or RESULT_KEY): {
            "id": str(entry.id),
            "entry_id": str(entry.id),
            "number": entry.number,
            "year": entry.year,
            "display": entry.display_number,
            "registered_at": entry.registered_at.isoformat(),
        }
    }
