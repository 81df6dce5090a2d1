"""Incoming documents (ΙΡΙΔΑ-style document flow): registration by the protocol office, χρέωση
of N documents to M units for action or for information, handling on
``processes/incoming_document.bpmn`` (the head routes, a clerk files or starts a reply,
re-assignment, SLA escalation), read/unread copies, folders and the document's timeline.

Imports engine.workflow, engine.protocol, engine.people, storage and core; its service-task
handlers are registered through engine.domains.
"""
