"""Parse BPMN XML without DTDs, entity expansion or network access."""

from __future__ import annotations

from lxml import etree

from engine.workflow.errors import Problem, UnsafeXmlError

# No DTD is ever loaded or honoured, entities are not expanded, nothing is fetched: this
# shuts out XXE (file/network entities) and entity-expansion bombs (billion laughs).
_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": False,
}


def parse_xml(data: bytes, file_name: str = "") -> etree._ElementTree:
    """Parse ``data`` as XML, refusing DTDs and entity declarations with a clear error."""
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise UnsafeXmlError(
            [
                Problem(
                    "",
                    "",
                    "the file declares a DOCTYPE or XML entities, which Polis refuses "
                    "(they can read local files or exhaust memory). Save the diagram again "
                    "from Camunda Modeler or bpmn.io: they never write a DOCTYPE.",
                )
            ],
            file_name,
        )
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(
            [
                Problem(
                    "",
                    "",
                    f"the file is not well-formed XML ({exc.msg}). "
                    "Export it again as BPMN 2.0 XML from the modeler.",
                )
            ],
            file_name,
        ) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXmlError(
            [
                Problem(
                    "",
                    "",
                    "the file carries a DTD, which Polis refuses; remove the DOCTYPE.",
                )
            ],
            file_name,
        )
    return tree
