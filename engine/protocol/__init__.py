"""The protocol registry (πρωτόκολλο): gap-free yearly numbering, receipts, corrections, search.

Public entry points: :mod:`engine.protocol.entries` (register, cancel, correct, get),
:mod:`engine.protocol.search`, :mod:`engine.protocol.receipts`, :mod:`engine.protocol.export`
and the BPMN service-task handler :func:`engine.protocol.tasks.register_protocol`.
"""
