"""Which facts a service's certificate states, and the facts it will state for a case.

The certificate template is the definition: every form field it prints (``data.X`` or
``choice.X``, in the template, its layout or the parts it includes) is a fact the municipality
certifies. A clerk may correct those facts to the municipality's verified records before
proposing approval (engine.casework.certificate_facts); the corrections are kept in the case
data under ``certified_facts`` and printed instead of what the applicant typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes

from engine.issuing.certificates import SHARED_TEMPLATES
from forms.catalogue import Service

#: The case data key of the clerk's corrections: {field: value}.
CERTIFIED_FACTS = "certified_facts"
_VARIABLES = ("data", "choice")


def _field_of(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return node.attr if node.node.name in _VARIABLES else None
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and node.node.name in _VARIABLES
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value
    return None


@lru_cache(maxsize=64)
def _stated(template: str, folders: tuple[str, ...]) -> tuple[str, ...]:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(list(folders)), autoescape=True)
    found: list[str] = []
    pending, read = [template], set()
    while pending:
        name = pending.pop(0)
        if name in read:
            continue
        read.add(name)
        assert environment.loader is not None
        source = environment.loader.get_source(environment, name)[0]
        tree = environment.parse(source)
        for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Extends, nodes.Include)):
            if isinstance(node, nodes.Extends | nodes.Include):
                if isinstance(node.template, nodes.Const) and isinstance(node.template.value, str):
                    pending.append(node.template.value)
                continue
            field = _field_of(node)
            if field is not None and field not in found:
                found.append(field)
    return tuple(found)


def stated_fields(service: Service) -> tuple[str, ...]:
    """The form fields ``service``'s certificate prints, in the order they first appear."""
    template = service.certificate_template
    return tuple(
        name
        for name in _stated(template.name, (str(template.parent), str(SHARED_TEMPLATES)))
        if name in service.form_schema.get("properties", {})
    )


def certified_form(case_data: Mapping[str, Any]) -> dict[str, Any]:
    """The form the certificate is printed from: the applicant's, with the clerk's corrections."""
    form = dict(case_data.get("form") or {})
    form.update(case_data.get(CERTIFIED_FACTS) or {})
    return form
